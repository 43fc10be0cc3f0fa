"""One clock: the service reads the time only through ``app.clock``."""

from __future__ import annotations

import ast
from datetime import datetime, timezone
from pathlib import Path

import app

APP = Path(app.__file__).resolve().parent
READING_THE_CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("date", "today"),
                     ("time", "time")}


def _clock_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and (node.value.id, node.attr) in READING_THE_CLOCK):
            found.append(f"{path.relative_to(APP)}:{node.lineno} {node.value.id}.{node.attr}")
    return found


def test_only_the_clock_module_reads_the_time() -> None:
    packages = ("api", "cli", "edge", "models", "services", "web")
    reads = [read for package in packages for path in sorted((APP / package).rglob("*.py"))
             for read in _clock_reads(path)]
    reads += [read for path in sorted(APP.glob("*.py")) if path != APP / "clock.py"
              for read in _clock_reads(path)]
    assert reads == []


def test_the_checker_sees_a_clock_read() -> None:
    reads = _clock_reads(APP / "clock.py")
    assert [read.split()[-1] for read in reads] == ["datetime.now"]


def test_the_clock_is_aware_utc() -> None:
    from app import clock

    now = clock.now()
    assert now.tzinfo is timezone.utc
    assert abs((datetime.now(timezone.utc) - now).total_seconds()) < 5
