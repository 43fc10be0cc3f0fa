"""Shared fixtures: a migrated database (SQLite, or PostgreSQL when configured), the app,
a per-test session rolled back afterwards, and factories for users and tokens."""

from __future__ import annotations

import atexit
import os
import secrets
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session

TEST_CONFIG: dict[str, Any] = {
    "ENV": "testing",
    "SECRET_KEY": "test-secret-key-0123456789abcdef0123456789",
    "DATA_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "LOOKUP_KEY": "bG9va3VwLWtleS1mb3ItdGVzdHMtMDEyMzQ1Njc4OWE=",
    "KEY_PASSPHRASE": "test-key-passphrase",
    "LOG_LEVEL": "WARNING",
    # this run's own job queue (embedded SQLite), not var/queue.db of the checkout
    "QUEUE_URL": f"sqlite:///{tempfile.gettempdir()}/unioncard-test-queue-{secrets.token_hex(6)}.db",
}


@atexit.register
def _remove_test_queue() -> None:
    queue = str(TEST_CONFIG["QUEUE_URL"]).removeprefix("sqlite:///")
    for suffix in ("", "-wal", "-shm"):
        if os.getpid() == _CONFTEST_PID:  # not from a worker subprocess that imported this
            Path(queue + suffix).unlink(missing_ok=True)


_CONFTEST_PID = os.getpid()
PASSWORD = "correct horse battery"


class ScratchDatabases:
    """A throwaway database: a SQLite file, or a fresh PostgreSQL database on the given server."""

    def __init__(self, tmp_dir: str) -> None:
        self.base_url = os.environ.get("UNIONCARD_TEST_DATABASE_URL", "")
        self.tmp_dir = tmp_dir
        self.created: list[str] = []

    @property
    def is_postgres(self) -> bool:
        return self.base_url.startswith("postgresql")

    def new(self, label: str) -> str:
        """A new empty database; its URL."""
        if not self.is_postgres:
            return f"sqlite:///{self.tmp_dir}/{label}-{secrets.token_hex(4)}.db"
        name = f"uc_test_{label}_{secrets.token_hex(4)}"
        admin = create_engine(self.base_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        self.created.append(name)
        return make_url(self.base_url).set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        """Drop every database this run created."""
        if not self.created:
            return
        admin = create_engine(self.base_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for name in self.created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def test_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScratchDatabases]:
    dbs = ScratchDatabases(str(tmp_path_factory.mktemp("db")))
    yield dbs
    dbs.drop_all()


@pytest.fixture(scope="session")
def database_url(test_databases: ScratchDatabases) -> str:
    """The URL of the session's migrated database."""
    from app import migrate

    url = test_databases.new("main")
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def cheap_password_hashing() -> Iterator[None]:
    """argon2id at its lowest cost in this process: at the production cost, hashing the test
    users' passwords took most of the suite's time. Subprocesses (and production) keep the
    library's recommended cost, which ``test_cli_creates_a_user_from_stdin_in_a_subprocess``
    checks."""
    from argon2 import PasswordHasher

    from app.services.access import accounts, member_accounts

    cheap = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(accounts, "_hasher", cheap)
        patch.setattr(accounts, "_DUMMY_HASH", cheap.hash("unioncard-no-such-user"))
        patch.setattr(member_accounts, "_hasher", cheap)
        patch.setattr(member_accounts, "_DUMMY_HASH", cheap.hash("unioncard-no-such-member"))
        yield


@pytest.fixture(scope="session")
def app(database_url: str, cheap_password_hashing: None) -> Iterator[Flask]:
    from app import create_app

    application = create_app({**TEST_CONFIG, "DATABASE_URL": database_url})
    yield application
    from app.extensions import db

    for engine in db.engines(application):
        engine.dispose()


@pytest.fixture
def connection(app: Flask) -> Iterator[Connection]:
    """A connection in an outer transaction that is rolled back after the test."""
    from app.extensions import db, limiter

    limiter.reset()
    conn = db.engine_for(app).connect()
    outer = conn.begin()
    db.bind_app_to(app, conn)
    try:
        yield conn
    finally:
        outer.rollback()
        conn.close()


@pytest.fixture
def session(app: Flask, connection: Connection) -> Iterator[Session]:
    """A session whose commits become savepoints of the outer, rolled-back transaction."""
    from app.extensions import db

    s = db.new_session(app)  # no app context: each request must get its own ``g``
    yield s
    s.close()


@pytest.fixture
def client(app: Flask, connection: Connection) -> FlaskClient:
    return app.test_client()


class Factory:
    """Creates test users and their bearer tokens."""

    def __init__(self, app: Flask, session: Session) -> None:
        self.app = app
        self.session = session
        self._n = 0

    def user(self, role: str = "officer", province: str | None = "24",
             union: str | None = None, **kwargs: Any) -> Any:
        from app.models import Role
        from app.services.access import accounts

        self._n += 1
        if role != "admin" and union is not None:
            self.ensure_union(union, province or "24")
        user = accounts.create_user(
            self.session, username=kwargs.pop("username", f"user{self._n}-{secrets.token_hex(2)}"),
            password=kwargs.pop("password", PASSWORD), role=Role(role),
            province_code=None if role == "admin" else province,
            union_code=None if role == "admin" else union, **kwargs)
        self.session.commit()
        return user

    def token(self, user: Any) -> str:
        from app.edge.auth import token_service
        from app.services.access.tokens import Principal

        with self.app.app_context():
            return token_service().issue(Principal(
                kind="user", id=user.id, role=user.role.value, province_code=user.province_code,
                union_code=user.union_code, token_version=user.token_version)).access_token

    def headers(self, user: Any) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def ensure_union(self, code: str, province: str) -> None:
        """The union an officer is scoped to must exist (``accounts.create_user`` checks)."""
        from sqlalchemy import select

        from app.models import Union

        if self.session.scalar(select(Union.id).where(Union.code == code)) is None:
            self.union(code, province)

    def union(self, code: str | None = None, province: str = "24", **kwargs: Any) -> Any:
        from app.models import Union

        self._n += 1
        union = Union(code=code or f"CD-{province}-{self._n:03d}{secrets.token_hex(2).upper()}",
                      name=kwargs.pop("name", f"Công đoàn cơ sở số {self._n}"),
                      province_code=province, employer=kwargs.pop("employer", ""),
                      industrial_park=kwargs.pop("industrial_park", ""))
        self.session.add(union)
        self.session.commit()
        return union

    def member(self, union: Any, **fields: Any) -> Any:
        from datetime import date

        from app.config import decode_data_key
        from app.crypto import DataCipher
        from app.services.access.scope import Scope
        from app.services.access.tokens import Principal
        from app.services.registry.members import MemberRegistry

        birth = fields.setdefault("birth_date", date(1990, 5, 17))
        sex = fields.setdefault("sex", "F")
        fields.setdefault("full_name", "Nguyễn Thị Kim Yến")
        fields.setdefault("personal_id", make_cccd(birth, sex))
        fields["union_code"] = union.code
        cipher = DataCipher([decode_data_key(TEST_CONFIG["DATA_KEY"])],
                        lookup_key=decode_data_key(TEST_CONFIG["LOOKUP_KEY"]))
        registry = MemberRegistry(self.session, cipher, actor="test")
        member, _ = registry.create(Scope(Principal("user", 0, "admin")), fields)
        self.session.commit()
        return member


    def clinic(self, facility_code: str = "27001", **fields: Any) -> Any:
        """An accredited clinic (by default an industrial-park clinic in Bắc Ninh), made by
        the clinic register as an administrator."""
        from app.services.access.scope import Scope
        from app.services.access.tokens import Principal
        from app.services.clinics.register import ClinicRegister

        fields.setdefault("name", f"Phòng khám đa khoa KCN Quế Võ {facility_code}")
        fields.setdefault("province_code", "24")
        fields.setdefault("facility_type", "industrial-park-clinic")
        fields.setdefault("address", "KCN Quế Võ, phường Phương Liễu, Bắc Ninh")
        register = ClinicRegister(self.session, Scope(Principal("user", 0, "admin")),
                                  actor="test")
        made = register.create({"facility_code": facility_code, **fields})
        self.session.commit()
        return made

    def clinic_client(self, clinic: Any, label: str = "reception") -> ClinicLogin:
        """An active API client of ``clinic``: its public id, secret and primary key."""
        from app.services.clinics.clients import ClinicClients

        made = ClinicClients(self.session, config_cipher(), actor="test").create(clinic, label)
        self.session.commit()
        return ClinicLogin(made.client.client_id, made.client_secret, made.client.id)

    def clinic_headers(self, login: ClinicLogin) -> dict[str, str]:
        """The Authorization header of a clinic client's bearer token (as the token endpoint
        issues it)."""
        from sqlalchemy import select

        from app.edge.auth import token_service
        from app.models import ClinicClient
        from app.services.clinics.clients import principal

        client = self.session.scalar(select(ClinicClient).where(
            ClinicClient.client_id == login.client_id))
        with self.app.app_context():
            token = token_service().issue(principal(client)).access_token
        return {"Authorization": f"Bearer {token}"}


@dataclass(frozen=True)
class ClinicLogin:
    """A clinic API client's credentials (``client_pk``: its primary key)."""

    client_id: str
    client_secret: str
    client_pk: int


def config_cipher() -> Any:
    """The data cipher of ``TEST_CONFIG``."""
    from app.config import decode_data_key
    from app.crypto import DataCipher

    return DataCipher([decode_data_key(TEST_CONFIG["DATA_KEY"])],
                      lookup_key=decode_data_key(TEST_CONFIG["LOOKUP_KEY"]))


@pytest.fixture
def clinic(factory: Factory) -> Any:
    """An accredited industrial-park clinic in Bắc Ninh, facility code 27001."""
    return factory.clinic("27001", name="Phòng khám đa khoa KCN Quế Võ")


@pytest.fixture
def clinic_client(factory: Factory, clinic: Any) -> ClinicLogin:
    """An active API client of ``clinic``."""
    return factory.clinic_client(clinic)


@pytest.fixture
def clinic_headers(factory: Factory, clinic_client: ClinicLogin) -> dict[str, str]:
    """The bearer Authorization header of ``clinic_client``."""
    return factory.clinic_headers(clinic_client)


@pytest.fixture
def factory(app: Flask, session: Session) -> Factory:
    return Factory(app, session)


@pytest.fixture
def make_app(database_url: str, cheap_password_hashing: None) -> Iterator[Any]:
    """Build extra apps (other configs); their engines are disposed after the test."""
    from app import create_app
    from app.extensions import db

    made: list[Flask] = []

    def build(overrides: dict[str, Any] | None = None, *, base: bool = True) -> Flask:
        config = {**TEST_CONFIG, "DATABASE_URL": database_url} if base else {}
        application = create_app({**config, **(overrides or {})})
        made.append(application)
        return application

    yield build
    for application in made:
        for engine in db.engines(application):
            engine.dispose()


def invoke(app: Flask, *args: str, input: str | None = None) -> Any:
    """Run a ``unioncard`` command in this process against ``app``; click's result (exit
    code, stdout, stderr). Unexpected exceptions propagate."""
    from click.testing import CliRunner

    from app.cli import cli

    return CliRunner().invoke(cli, list(args), input=input, obj=app, catch_exceptions=False)


def unioncard_env(database_url: str, **config: str) -> dict[str, str]:
    """The environment of a ``unioncard`` subprocess: the test configuration, a database and
    more ``UNIONCARD_*`` settings."""
    return {**os.environ, **{f"UNIONCARD_{k}": str(v) for k, v in TEST_CONFIG.items()},
            "UNIONCARD_DATABASE_URL": database_url,
            **{f"UNIONCARD_{k}": v for k, v in config.items()}}


def make_cccd(birth: Any, sex: str, province: str = "024") -> str:
    """A CCCD consistent with the birth date and sex (random last 6 digits)."""
    from app.services.registry.identity import cccd_century_digit

    return (province + cccd_century_digit(birth, sex) + f"{birth.year % 100:02d}"
            + f"{secrets.randbelow(10**6):06d}")


#: The grassroots unions and officers of ``committed_office``.
OFFICE_UNIONS = (("CDCS-24-QUEVO1", "CĐCS Quế Võ 1", "24"),
                 ("CDCS-24-YENPHONG", "CĐCS Yên Phong", "24"))
OFFICE_OFFICERS = (("lan.bn", "24"), ("minh.hcm", "79"))


@pytest.fixture
def committed_office(test_databases: ScratchDatabases, make_app: Any) -> Any:
    """Build an app on its own migrated, committed database (for tests that use threads or
    subprocesses), holding ``OFFICE_UNIONS`` and the officers ``OFFICE_OFFICERS``."""
    from app import migrate
    from app.extensions import db
    from app.models import Role, Union
    from app.services.access import accounts

    def build(label: str, **config: Any) -> Flask:
        url = test_databases.new(label)
        migrate.upgrade(url)
        application = make_app({"DATABASE_URL": url, **config})
        session = db.new_session(application)
        session.add_all([Union(code=code, name=name, province_code=province)
                         for code, name, province in OFFICE_UNIONS])
        for username, province in OFFICE_OFFICERS:
            accounts.create_user(session, username=username, password=PASSWORD,
                                 role=Role.OFFICER, province_code=province)
        session.commit()
        session.close()
        return application

    return build


@contextmanager
def served_over_http(application: Flask) -> Iterator[str]:
    """``application`` served over HTTP by a thread on a free local port (for clients that
    make real requests); yields its base URL, and stops the server after."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
