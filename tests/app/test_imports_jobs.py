"""Import jobs on a real committed database: background thread, kill and resume, concurrency."""

from __future__ import annotations

import functools
import io
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from app.models import ImportIssue, Job, JobStatus, Member
from tests.app.roster_fixtures import people, to_csv
from tests.app.worker_helpers import running_worker
from tests.conftest import invoke, unioncard_env

QUEVO = "CDCS-24-QUEVO1"
YENPHONG = "CDCS-24-YENPHONG"


@pytest.fixture
def committed(committed_office: Any, tmp_path: Path) -> Any:
    """An app on its own migrated, committed database with two unions and officers."""
    return committed_office("jobs", IMPORT_DIR=str(tmp_path / "imports"))


def _session(app: Any) -> Any:
    from app.extensions import db

    return db.new_session(app)


def _scope(app: Any) -> Any:
    from app.services.registry import imports

    session = _session(app)
    try:
        return imports.scope_of_account(session, "lan.bn")
    finally:
        session.close()


def test_api_enqueues_the_import_and_a_worker_runs_it(committed: Any) -> None:
    from app.edge.auth import token_service
    from app.services.access.tokens import Principal

    app = committed
    scope = _scope(app)
    with app.app_context():
        token = token_service().issue(Principal(**{
            k: getattr(scope.principal, k) for k in
            ("kind", "id", "role", "province_code", "union_code")})).access_token
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    body = to_csv(people(300, QUEVO)).encode()
    response = client.post("/api/v1/imports", data={"file": (io.BytesIO(body), "r.csv")},
                           headers=headers, content_type="multipart/form-data")
    assert response.status_code == 202
    location = response.headers["Location"]
    time.sleep(0.5)
    job = client.get(location, headers=headers).get_json()
    assert job["status"] == "queued" and job["checkpoint"] == 0  # the web process only enqueues
    with running_worker(app):
        deadline = time.monotonic() + 30
        while job["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.05)
            job = client.get(location, headers=headers).get_json()
    assert job["status"] == "succeeded", job
    assert job["counts"]["created"] == 300 and job["checkpoint"] == 300
    assert not (Path(app.config["IMPORT_DIR"]) / job["id"]).exists()  # personal data removed


def test_an_interrupted_job_resumes_from_its_checkpoint(committed: Any, tmp_path: Path) -> None:
    from app.composition import cipher_for_config
    from app.services import jobs
    from app.services.registry import imports
    from app.services.registry.roster import Limits

    app = committed
    rows = people(1000, QUEVO)
    rows[10]["sex"] = "?"
    rows[950]["sex"] = "?"
    path = tmp_path / "r.csv"
    path.write_text(to_csv(rows), encoding="utf-8")
    scope, cipher = _scope(app), cipher_for_config(app.config)
    settings = imports.ImportSettings(limits=Limits(), batch_size=100, directory=tmp_path)
    launch = functools.partial(jobs.run, functools.partial(_session, app))

    class Crash(Exception):
        pass

    def crash(job: Job) -> None:
        if job.checkpoint >= 300:
            raise Crash

    session = _session(app)
    try:
        with pytest.raises(Crash):
            imports.start(session, scope, path, file_name="r.csv", dry_run=False,
                          settings=settings, cipher=cipher, launch=launch, on_progress=crash)
        job = session.scalars(select(Job)).one()
        assert job.status is JobStatus.FAILED and job.checkpoint == 300
        assert job.error == "internal error (Crash)"
        again, resumed = imports.start(session, scope, path, file_name="r.csv", dry_run=False,
                                       settings=settings, cipher=cipher, launch=launch)
        assert resumed and again.id == job.id
        session.refresh(again)
        assert again.status is JobStatus.SUCCEEDED
        assert again.counts == {"total": 1000, "processed": 1000, "created": 998, "updated": 0,
                                "unchanged": 0, "errors": 2, "warnings": 0}
        assert session.scalar(select(func.count()).select_from(Member)) == 998
        assert sorted(session.scalars(select(ImportIssue.row_number))) == [12, 952]
    finally:
        session.close()


def test_cli_checks_imports_and_reports_a_roster(committed: Any, tmp_path: Path) -> None:
    """``unioncard roster import``: a dry run with its report, the import, a rerun."""
    app = committed
    rows = people(30, QUEVO)
    rows[4]["birth_date"] = "30/02/1990"
    path, report = tmp_path / "r.csv", tmp_path / "report.csv"
    path.write_text(to_csv(rows), encoding="utf-8")
    checked = invoke(app, "roster", "import", "--here", str(path), "--as", "lan.bn", "--dry-run",
                     "--report", str(report))
    assert checked.exit_code == 0, checked.stderr
    session = _session(app)
    job_id = session.scalars(select(Job.id)).one()
    session.close()
    assert checked.stdout == (
        "30 rows: would create 29, would update 0, unchanged 0, 1 rows with errors, 0 with "
        f"warnings (job {job_id}); rows with errors were skipped: see {report}\n")
    assert "checking" in checked.stderr  # the progress bar
    lines = report.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "\ufeffrow,column,value,severity,reason" and len(lines) == 2
    assert lines[1].startswith("6,")

    done = invoke(app, "roster", "import", "--here", str(path), "--as", "lan.bn", "--batch-size", "7")
    assert done.exit_code == 0, done.stderr
    assert done.stdout.startswith("30 rows: created 29, updated 0, unchanged 0, 1 rows with "
                                  "errors") and "see the report (--report OUT.csv)" in done.stdout
    assert "importing" in done.stderr
    again = invoke(app, "roster", "import", "--here", str(path), "--as", "lan.bn")
    assert again.exit_code == 0 and "created 0, updated 0, unchanged 29" in again.stdout
    session = _session(app)
    try:
        assert session.scalar(select(func.count()).select_from(Member)) == 29
        assert [j.checkpoint for j in session.scalars(select(Job))] == [30, 30, 30]
    finally:
        session.close()


def test_cli_import_errors_are_one_line(committed: Any, tmp_path: Path) -> None:
    app = committed
    path = tmp_path / "r.csv"
    path.write_text("who,what\nx,y\n", encoding="utf-8")
    rejected = invoke(app, "roster", "import", "--here", str(path), "--as", "lan.bn")
    assert rejected.exit_code == 1 and rejected.stderr.startswith("Error: ")
    assert len(rejected.stderr.strip().splitlines()) == 1 and rejected.stdout == ""
    nobody = invoke(app, "roster", "import", "--here", str(path), "--as", "nobody")
    assert nobody.exit_code == 1 and "No active staff account" in nobody.stderr


@pytest.mark.slow
def test_kill_the_cli_mid_import_and_rerun(committed: Any, tmp_path: Path) -> None:
    """SIGKILL after a batch is committed; the rerun resumes and every valid row is there once."""
    app = committed
    rows = people(12_000, QUEVO)
    invalid = {5, 4_000, 11_999}
    for index in invalid:
        rows[index]["birth_date"] = "30/02/1990"
    path = tmp_path / "big.csv"
    path.write_text(to_csv(rows), encoding="utf-8")
    env = unioncard_env(app.config["DATABASE_URL"])
    command = [sys.executable, "-m", "app", "roster", "import", "--here", str(path), "--as", "lan.bn",
               "--batch-size", "100"]
    root = Path(__file__).resolve().parents[2]
    first = subprocess.Popen(command, cwd=root, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
    session = _session(app)
    killed_at = 0
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and first.poll() is None:
            checkpoint = session.scalar(select(Job.checkpoint)) or 0
            session.rollback()
            if checkpoint >= 200:
                first.send_signal(signal.SIGKILL)
                killed_at = checkpoint
                break
            time.sleep(0.01)
        first.communicate(timeout=30)
        assert 0 < killed_at < len(rows), "the import finished before it could be killed"
        second = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                                timeout=120)
        assert second.returncode == 0, second.stderr
        assert "resumed job" in second.stdout and "3 rows with errors" in second.stdout
        session.expire_all()
        job = session.scalars(select(Job)).one()
        assert job.status is JobStatus.SUCCEEDED and job.checkpoint == len(rows)
        assert job.counts["created"] + job.counts["errors"] == len(rows)
        assert session.scalar(select(func.count()).select_from(Member)) == len(rows) - 3
        assert session.scalar(select(func.count(func.distinct(Member.personal_id_hash)))) \
            == len(rows) - 3
        assert session.scalar(select(func.count(func.distinct(Member.member_number)))) \
            == len(rows) - 3
        assert sorted(session.scalars(select(ImportIssue.row_number))) == \
            sorted(i + 2 for i in invalid)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
        session.close()


def test_parallel_imports_into_one_province_get_unique_member_numbers(
        committed: Any, tmp_path: Path) -> None:
    from app.composition import cipher_for_config
    from app.services import jobs
    from app.services.registry import imports
    from app.services.registry.roster import Limits

    app = committed
    scope, cipher = _scope(app), cipher_for_config(app.config)
    settings = imports.ImportSettings(limits=Limits(), batch_size=100, directory=tmp_path)
    launch = functools.partial(jobs.run, functools.partial(_session, app))
    files = []
    for n, union in enumerate((QUEVO, YENPHONG)):
        rows = people(1500, union, seed=100 + n)
        for row in rows:  # distinct people in each file
            row["personal_id"] = row["personal_id"][:6] + f"{n}{row['personal_id'][7:]}"
        path = tmp_path / f"r{n}.csv"
        path.write_text(to_csv(rows), encoding="utf-8")
        files.append(path)
    errors: list[BaseException] = []

    def run(path: Path) -> None:
        session = _session(app)
        try:
            imports.start(session, scope, path, file_name=path.name, dry_run=False,
                          settings=settings, cipher=cipher, launch=launch)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            session.close()

    threads = [threading.Thread(target=run, args=(p,)) for p in files]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors
    session = _session(app)
    try:
        numbers = list(session.scalars(select(Member.member_number)))
        assert len(numbers) == 3000 == len(set(numbers))
        assert sorted(numbers) == [f"24{i:08d}" for i in range(1, 3001)]
    finally:
        session.close()
