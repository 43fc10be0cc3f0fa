"""Dependencies point one way: ``app`` uses ``cards``; ``cards`` uses no framework and no ``app``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN_IN_CARDS = {"flask", "flask_smorest", "sqlalchemy", "marshmallow", "alembic", "app",
                      "webargs", "werkzeug"}


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_cards_source_imports_no_framework_and_no_app() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imported_roots(p) & FORBIDDEN_IN_CARDS)
        for p in (ROOT / "cards").rglob("*.py")
        if _imported_roots(p) & FORBIDDEN_IN_CARDS
    }
    assert offenders == {}


def test_importing_cards_loads_no_framework() -> None:
    modules = [p.stem for p in (ROOT / "cards").glob("*.py")
               if p.stem not in ("__init__", "__main__")]
    code = ("import sys, importlib\nimport cards\n"
            + "".join(f"importlib.import_module('cards.{m}')\n" for m in modules)
            + f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN_IN_CARDS!r})\n"
            + "print(','.join(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_the_checker_would_catch_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from flask import Flask\nimport sqlalchemy.orm\n", encoding="utf-8")
    assert _imported_roots(bad) & FORBIDDEN_IN_CARDS == {"flask", "sqlalchemy"}
