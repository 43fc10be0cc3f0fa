"""Run the test FHIR server as a subprocess: started on a free port, stopped (killed) and
started again on the same port with the same store."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class FhirServerProcess:
    """One server: ``base_url``, ``start``, ``stop``, admin calls and searches."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fhir"

    def start(self) -> None:
        assert self.process is None
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.fhir_server", "--port", str(self.port),
             "--store", str(self.store)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("ready"):
            self.stop()
            raise RuntimeError(f"the FHIR test server did not start: {line!r}")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # listening
            try:
                self.get("/fhir/metadata")
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the FHIR test server does not answer")

    def stop(self) -> None:
        """Kill it (as a crash would): what it stored stays in its file."""
        if self.process is None:
            return
        self.process.kill()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None

    def _call(self, method: str, path: str) -> Any:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", method=method,
                                         data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=10) as answer:
            return json.loads(answer.read())

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def admin(self, action: str, **params: Any) -> None:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        self._call("POST", f"/_admin/{action}?{query}")

    def search(self, kind: str, identifier: str | None = None) -> list[dict[str, Any]]:
        path = f"/fhir/{kind}" + (f"?identifier={urllib.parse.quote(identifier, safe='')}"
                                  if identifier else "")
        return [e["resource"] for e in self.get(path).get("entry", [])]


@pytest.fixture
def fhir_server(tmp_path: Path) -> Iterator[FhirServerProcess]:
    """A running server with its store in the test's directory, killed after the test (import
    it into a test module to use it)."""
    server = FhirServerProcess(tmp_path / "fhir-store.json")
    server.start()
    try:
        yield server
    finally:
        server.stop()
