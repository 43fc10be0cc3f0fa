"""The import rules of the architecture, checked by import-linter's contracts in pyproject.toml.

The contracts: ``cards`` knows no framework and no ``app``; the edges (commands, API, pages) sit
above ``app.edge``, which sits above the services, the models and the database base; services,
models and the base import no Flask and nothing of the HTTP edge or the composition root.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_LINT = ("import sys\nfrom importlinter.cli import lint_imports\n"
         "sys.exit(lint_imports(config_filename=sys.argv[1], no_cache=True, no_logo=True))\n")


def _lint(config: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _LINT, str(config)], cwd=cwd, env={
        "PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)}, capture_output=True, text=True,
        timeout=300)


def test_the_project_keeps_its_contracts() -> None:
    done = _lint(ROOT / "pyproject.toml", ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    """A minimal copy of the package layout with the given module sources."""
    skeleton = ["cards/__init__.py", "app/__init__.py", "app/cli/__init__.py",
                "app/api/__init__.py", "app/web/__init__.py", "app/edge/__init__.py",
                "app/services/__init__.py", "app/models/__init__.py", "app/db.py",
                "app/clock.py", "app/crypto.py", "app/extensions.py", "app/composition.py",
                "app/config.py"]
    for name in skeleton:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(files.get(name, ""), encoding="utf-8")
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
        for package in (tmp_path / name).parents:
            if package == tmp_path:
                break
            (package / "__init__.py").touch()
    return tmp_path


@pytest.mark.parametrize(("files", "broken"), [
    ({"cards/verify.py": "import flask\n"}, "cards is a framework-free library"),
    ({"cards/verify.py": "from app import db\n"}, "cards is a framework-free library"),
    ({"app/services/registry/members.py": "from app.api import members\n"}, "The edges"),
    ({"app/models/member.py": "import app.services.registry.members\n", "app/services/registry/members.py": ""},
     "The edges"),
    ({"app/api/members.py": "from app.web import pages\n", "app/web/pages.py": ""},
     "The edges"),
    ({"app/services/registry/members.py": "from flask import request\n"}, "Services know no HTTP"),
    ({"app/services/registry/members.py": "from app.edge import problems\n",
      "app/edge/problems.py": ""}, "Services know no HTTP"),
    ({"app/services/registry/members.py": "from app import composition\n"}, "Services know no HTTP"),
])
def test_a_deliberate_violation_breaks_a_contract(tmp_path: Path, files: dict[str, str],
                                                  broken: str) -> None:
    tree = _tree(tmp_path, files)
    config = tree / "pyproject.toml"
    config.write_text((ROOT / "pyproject.toml").read_text(encoding="utf-8"), encoding="utf-8")
    (tree / "flask").mkdir()
    (tree / "flask" / "__init__.py").write_text("", encoding="utf-8")
    done = _lint(config, tree)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "BROKEN" in done.stdout
    assert broken in done.stdout.replace("\n", " ")
