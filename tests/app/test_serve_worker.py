"""``scripts/serve`` runs a ``unioncard worker`` beside gunicorn on the embedded queue: an
upload's import job is run by it, and SIGTERM stops both."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.app.test_serve import free_port

ROOT = Path(__file__).resolve().parents[2]


def _call(port: int, path: str, *, data: bytes | None = None,
          headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                     headers=headers or {})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _children(pid: int) -> list[int]:
    found = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True,
                           text=True).stdout.split()
    return [int(p) for p in found]


@pytest.mark.slow
def test_serve_runs_a_worker_beside_gunicorn(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("UNIONCARD_")}
    env.update({"UNIONCARD_ROOT": str(tmp_path), "PORT": str(port),
                "UNIONCARD_ENV": "development", "UNIONCARD_THREADS": "2"})
    with (tmp_path / "serve.log").open("w") as log:
        serve = subprocess.Popen([str(ROOT / "scripts" / "serve")], cwd=ROOT, env=env,
                                 stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 300
        while True:
            try:
                if _call(port, "/readyz")["status"] == "ready":
                    break
            except OSError:
                pass
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "scripts/serve did not start"
            time.sleep(0.5)
        token = _call(port, "/api/v1/auth/token", data=json.dumps(
            {"username": "officer.bn", "password": "demo-officer-2026"}).encode(),
            headers={"Content-Type": "application/json"})["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        boundary = uuid.uuid4().hex
        roster = (ROOT / "samples" / "roster-bac-ninh.csv").read_bytes()
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
                f"filename=\"roster.csv\"\r\nContent-Type: text/csv\r\n\r\n").encode() \
            + roster + f"\r\n--{boundary}--\r\n".encode()
        job = _call(port, "/api/v1/imports", data=body, headers={
            **auth, "Content-Type": f"multipart/form-data; boundary={boundary}"})
        deadline = time.monotonic() + 120
        while job["status"] in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.2)
            job = _call(port, f"/api/v1/jobs/{job['id']}", headers=auth)
        assert job["status"] == "succeeded", job  # run by the worker scripts/serve started
        assert job["counts"]["processed"] == 33
        children = _children(serve.pid)
        assert len(children) == 2  # gunicorn and the worker
    finally:
        serve.send_signal(signal.SIGTERM)
        code = serve.wait(timeout=90)
    assert code == 0 or code == 143, code
    time.sleep(0.5)
    for pid in children:
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(
            f"/proc/{pid}/status").read_text().lower(), f"process {pid} still runs"
