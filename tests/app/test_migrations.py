"""The schema exists only through migrations: upgrade, parity with the models, downgrade."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, func, inspect, select

from app import migrate
from app.db import Base, make_engine
from app.models import Province
from tests.conftest import ScratchDatabases


def test_upgrade_gives_the_models_schema_and_downgrade_empties_it(
        test_databases: ScratchDatabases) -> None:
    url = test_databases.new("mig")
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(
                conn, opts={"compare_type": True}), Base.metadata)
            assert diff == [], f"models and migrations differ: {diff}"
            assert migrate.revisions(engine) == (migrate.head_revision(),) * 2
        migrate.downgrade(url, "base")
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(url)  # and back up again from nothing
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) >= set(Base.metadata.tables)
    finally:
        engine.dispose()


def test_every_revision_downgrades_and_upgrades_step_by_step(
        test_databases: ScratchDatabases) -> None:
    url = test_databases.new("steps")
    migrate.upgrade(url)
    engine = create_engine(url)
    try:
        while migrate.revisions(engine)[0] is not None:
            migrate.downgrade(url, "-1")
        migrate.upgrade(url)
        assert migrate.revisions(engine)[0] == migrate.head_revision()
    finally:
        engine.dispose()


def test_provinces_are_loaded_by_the_migration(session) -> None:
    assert session.scalar(select(func.count()).select_from(Province)) == 34
    hcm = session.get(Province, "79")
    assert hcm is not None and hcm.name == "Thành phố Hồ Chí Minh"
    assert "Bình Dương" in hcm.merged_from
    assert session.get(Province, "24").name == "Bắc Ninh"


def test_every_constraint_is_named(session) -> None:
    for table in Base.metadata.tables.values():
        for constraint in table.constraints:
            assert constraint.name, f"unnamed constraint on {table.name}"
