"""gunicorn configuration of ``scripts/serve`` and of production (``unioncard-web.service``
runs it as ``/etc/unioncard/gunicorn.conf.py``): one JSON line per log event, no query strings
in any log, problem+json for the requests gunicorn refuses itself, and rate limits that hold.

Environment: ``PORT`` (default 5000; the unit sets 8000); ``UNIONCARD_RATELIMIT_STORAGE_URI`` (a shared store such
as ``redis://host:6379/0`` allows ``WEB_CONCURRENCY`` worker processes, default 2; with the
default ``memory://`` store there is one worker process, so limits are not multiplied);
``UNIONCARD_THREADS`` (threads per worker, default 8).
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

from gunicorn import util

from app.logs import JsonFormatter, NoQueryStrings

# files this server creates (SQLite database, dev secrets, uploads, card batches) are private
os.umask(0o077)

# prometheus_client's multiprocess mode: each worker process writes its metrics to files in this
# directory, which /metrics adds up (set before the app is imported in the workers). The
# `unioncard worker` processes use the same directory when given the same setting.
_metrics_dir = Path(os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR",
    str(Path(os.environ.get("UNIONCARD_ROOT", os.getcwd())) / "var" / "metrics")))
_metrics_dir.mkdir(parents=True, exist_ok=True, mode=0o700)


def on_starting(server: Any) -> None:
    """Drop the metric files of processes that are gone (counters then restart from 0)."""
    for path in _metrics_dir.glob("*.db"):
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and not _alive(int(pid)):
            path.unlink(missing_ok=True)


def child_exit(server: Any, worker: Any) -> None:
    """A worker process ended: its live gauges no longer count."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


bind = [f"127.0.0.1:{int(os.environ.get('PORT', '5000'))}"]

# flask-limiter's memory:// store lives in one process: with several worker processes each
# would count on its own and the login limits would be multiplied by the worker count.
_storage = os.environ.get("UNIONCARD_RATELIMIT_STORAGE_URI", "memory://")
workers = 1 if _storage.startswith("memory:") else int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("UNIONCARD_THREADS", "8"))
timeout = 60
graceful_timeout = 30
keepalive = 5

# gunicorn answers requests over these limits with its own page; they are set to gunicorn's
# maxima so that the app's lower limits (app/edge/request_limits.py) answer as problem+json.
limit_request_line = 8190
limit_request_field_size = 8190
limit_request_fields = 100

accesslog = "-"
errorlog = "-"
# %(U)s is the path without the query string (which may hold personal IDs or tokens)
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms "%(a)s"'
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": JsonFormatter}},
    "filters": {"no_query": {"()": NoQueryStrings}},
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "json",
                   "filters": ["no_query"], "stream": "ext://sys.stderr"},
        "stdout": {"class": "logging.StreamHandler", "formatter": "json",
                   "filters": ["no_query"], "stream": "ext://sys.stdout"},
    },
    "root": {"level": "WARNING", "handlers": ["stderr"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stdout"], "propagate": False},
    },
}

_PROBLEMS = {400: "bad-request", 414: "uri-too-long", 431: "headers-too-large",
             500: "internal-error"}


def _problem_error(sock: socket.socket, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's error page as problem+json; ``mesg`` is left out (it may quote the
    request line or a header)."""
    body = json.dumps({"type": f"/problems/{_PROBLEMS.get(status_int, f'http-{status_int}')}",
                       "title": reason, "status": status_int,
                       "detail": "The server refused the request before the application saw "
                                 "it (request line or header too large, or malformed)."})
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, (head + body).encode("latin-1"))


# gunicorn has no setting for its error page: replace the function that writes it (the worker
# looks it up on the module at each call). Checked by tests/app/test_serve.py.
util.write_error = _problem_error
