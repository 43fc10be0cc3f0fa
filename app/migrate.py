"""Alembic, driven from code: the only way the schema is created or changed."""

from __future__ import annotations

import os
from pathlib import Path

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


def alembic_config(url: str) -> Config:
    """An Alembic config for the database at ``url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir()))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``base`` empties it)."""
    command.downgrade(alembic_config(url), revision)


def head_revision() -> str | None:
    """The newest revision of the scripts."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def revisions(engine: Engine) -> tuple[str | None, str | None]:
    """The database's current revision and the scripts' head."""
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    return current, head_revision()
