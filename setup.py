"""Build hook: the Alembic scripts, kept at ``migrations/`` in the checkout (where ``alembic``
and the lint commands find them), are shipped inside the package as ``app/migrations``.

Everything else about the package is declared in ``pyproject.toml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent


class BuildWithMigrations(build_py):
    """``build_py`` that also copies ``migrations/`` to ``app/migrations`` in the build."""

    def run(self) -> None:
        super().run()
        source = ROOT / "migrations"
        target = Path(self.build_lib) / "app" / "migrations"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(source, target,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))


setup(cmdclass={"build_py": BuildWithMigrations})
