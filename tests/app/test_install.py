"""The installable package: the wheel (built from the sdist) carries what the service needs at
run time, and a non-editable install outside the checkout migrates and serves
(scripts/check-install, as CI runs it)."""

from __future__ import annotations

import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from app import migrate

ROOT = Path(__file__).resolve().parents[2]
#: checkout directory -> where its files are in the wheel
RUNTIME_FILES = {"migrations": "app/migrations", "app/web/templates": "app/web/templates",
                 "app/web/static": "app/web/static", "app/data": "app/data",
                 "cards/fonts": "cards/fonts"}


def test_checkout_runs_its_own_migrations() -> None:
    assert migrate.migrations_dir() == ROOT / "migrations"
    assert not (ROOT / "app" / "migrations").exists(), "the build copies migrations/ here"


@pytest.mark.slow
def test_wheel_installs_migrates_and_serves(tmp_path: Path) -> None:
    env = dict(os.environ)
    pg_url = os.environ.get("UNIONCARD_TEST_DATABASE_URL", "")
    if pg_url.startswith("postgresql"):
        env["UNIONCARD_CHECK_PG_URL"] = pg_url  # a database of its own is made on that server
    for name in [k for k in env if k.startswith("UNIONCARD_") and k != "UNIONCARD_CHECK_PG_URL"]:
        del env[name]
    done = subprocess.run([str(ROOT / "scripts" / "check-install"), str(tmp_path / "work")],
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "/readyz on SQLite:" in done.stdout
    if "UNIONCARD_CHECK_PG_URL" in env:
        assert "/readyz on PostgreSQL:" in done.stdout

    wheel = next((tmp_path / "work" / "dist").glob("unioncard-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    tracked = subprocess.run(["git", "ls-files", *RUNTIME_FILES], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    assert tracked
    missing = []
    for path in tracked:
        source_dir = next(d for d in RUNTIME_FILES if path.startswith(d + "/"))
        if RUNTIME_FILES[source_dir] + path[len(source_dir):] not in shipped:
            missing.append(path)
    assert missing == [], f"not in the wheel: {missing}"
