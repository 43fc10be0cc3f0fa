"""Alembic, driven from code: the only way the schema is created or changed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine


def migrations_dir() -> Path:
    """Where the Alembic scripts live: ``UNIONCARD_MIGRATIONS_DIR`` if set, else inside the
    installed package (``app/migrations``, put there by the build), else the checkout's
    ``migrations/`` (an editable install or a run from the source tree)."""
    override = os.environ.get("UNIONCARD_MIGRATIONS_DIR")
    if override:
        return Path(override)
    here = Path(__file__).resolve().parent
    packaged = here / "migrations"
    if (packaged / "env.py").is_file():
        return packaged
    return here.parent / "migrations"


def alembic_config(url: str, cipher: Any = None) -> Config:
    """An Alembic config for the database at ``url``; ``cipher`` (the data keys) is handed to
    the migrations that move values into or out of encryption."""
    cfg = Config()
    cfg.attributes["cipher"] = cipher
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(url: str, revision: str = "head", *, cipher: Any = None) -> None:
    """Migrate the database at ``url`` up to ``revision`` (``cipher``: see ``alembic_config``)."""
    command.upgrade(alembic_config(url, cipher), revision)


def downgrade(url: str, revision: str, *, cipher: Any = None) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``base`` empties it)."""
    command.downgrade(alembic_config(url, cipher), revision)


def head_revision() -> str | None:
    """The newest revision of the scripts."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def revisions(engine: Engine) -> tuple[str | None, str | None]:
    """The database's current revision and the scripts' head."""
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, head_revision()
