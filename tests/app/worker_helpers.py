"""A ``unioncard worker`` for tests: in a thread of this process, or as a subprocess."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def running_worker(app: Any, *, reap_seconds: float = 0.5) -> Iterator[Any]:
    """A worker on the app's queue in a background thread, stopped (after its batch) at exit."""
    from app import worker
    from app.composition import job_queue

    runner = worker.Worker(app, job_queue(app), reap_seconds=reap_seconds,
                           stale_queued=timedelta(minutes=10), poll_seconds=0.05,
                           install_signals=False)
    thread = threading.Thread(target=runner.run, name="test-worker", daemon=True)
    thread.start()
    try:
        yield runner
    finally:
        runner.stop()
        thread.join(timeout=120)
        assert not thread.is_alive(), "the worker did not stop"


def start_worker(env: dict[str, str], log: TextIO) -> subprocess.Popen[str]:
    """``unioncard worker`` as a subprocess, looking for dead runners every half second."""
    return subprocess.Popen([sys.executable, "-m", "app", "worker", "--reap-seconds", "0.5",
                             "--poll-seconds", "0.1"], cwd=ROOT, env=env, stdout=log,
                            stderr=log, text=True)
