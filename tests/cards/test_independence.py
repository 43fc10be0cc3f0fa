"""The cards library stays framework-free: importing it pulls in no web or database layer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(
    f"cards.{p.stem}" for p in (ROOT / "cards").glob("*.py") if p.stem not in {"__init__", "__main__"}
)
FORBIDDEN = ("flask", "sqlalchemy", "marshmallow", "app", "flask_smorest", "alembic")


def test_importing_cards_pulls_in_no_framework() -> None:
    code = (
        "import importlib, sys\n"
        f"for name in ['cards', 'cards.__main__', *{MODULES!r}]:\n"
        "    importlib.import_module(name)\n"
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""
