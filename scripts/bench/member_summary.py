"""Benchmark: GET /api/v1/me/health-summary against a minimal JSON endpoint (/healthz) of the
same app, served by gunicorn with the deploy configuration on 127.0.0.1, in the same run.

Run: .venv/bin/python scripts/bench/member_summary.py [--seconds 4] [--rounds 3]
     [--concurrency 8] [--members 40]
     (UNIONCARD_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres adds
     PostgreSQL: a fresh database is made on that server and dropped afterwards)

The server runs in production mode with fresh random secrets (so the production checks and the
deploy configuration's logging apply). Every member has an activated account, a member token
and a stored summary (a shipped IPS fixture, about 25 entries). A bounded client (``--concurrency``
threads, each with one keep-alive connection) asks for as many answers as it can; the two
endpoints take turns, ``--rounds`` times ``--seconds`` each, so a change in the machine's load
falls on both. Every answer is checked (status 200; the summary's sections). Issue 10's target:
the summary at >= 50 % of the minimal endpoint's rate.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scripts.bench._db import fresh_database  # noqa: E402

TARGET = 0.5
PROVINCE = "24"
SUMMARY = "/api/v1/me/health-summary"
MINIMAL = "/healthz"


def secrets_env() -> dict[str, str]:
    """Fresh production-strength secrets."""
    return {"UNIONCARD_SECRET_KEY": secrets.token_urlsafe(48),
            "UNIONCARD_DATA_KEY": base64.b64encode(os.urandom(32)).decode(),
            "UNIONCARD_LOOKUP_KEY": base64.b64encode(os.urandom(32)).decode(),
            "UNIONCARD_KEY_PASSPHRASE": secrets.token_urlsafe(24),
            "UNIONCARD_AUDIT_CHECKPOINT_KEY": secrets.token_urlsafe(48)}


def setup(url: str, env: dict[str, str], members: int) -> list[str]:
    """``members`` members with accounts and stored summaries; their bearer tokens."""
    from importlib import resources

    from sqlalchemy.orm import sessionmaker

    from app.clock import now
    from app.config import decode_data_key
    from app.crypto import DataCipher
    from app.db import make_engine
    from app.models import MemberAccount, Union
    from app.services.access.accounts import hash_password
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal, TokenService
    from app.services.health.fhir_in import parse_bundle
    from app.services.health.store import HealthStore
    from app.services.registry.identity import cccd_century_digit
    from app.services.registry.members import MemberRegistry

    cipher = DataCipher([decode_data_key(env["UNIONCARD_DATA_KEY"])],
                        lookup_key=decode_data_key(env["UNIONCARD_LOOKUP_KEY"]))
    tokens = TokenService(env["UNIONCARD_SECRET_KEY"], issuer="unioncard", ttl_seconds=900)
    engine = make_engine(url)
    session = sessionmaker(bind=engine, expire_on_commit=False)()
    session.add(Union(code="CD-24-BENCH", name="CĐCS Bench", province_code=PROVINCE))
    session.commit()
    admin = Scope(Principal("user", 0, "admin"))
    registry = MemberRegistry(session, cipher, actor="bench")
    store = HealthStore(session, cipher, actor="bench")
    fixture = next(p for p in sorted((resources.files("app") / "data" / "fhir").iterdir(),
                                     key=lambda p: p.name) if p.name.endswith(".json"))
    raw = json.loads(fixture.read_bytes())
    health_id = next(i["value"] for e in raw["entry"] if e["resource"]["resourceType"] == "Patient"
                     for i in e["resource"].get("identifier", []) if len(i["value"]) == 10)
    document = parse_bundle(raw, health_id=health_id, feed="bench",
                            received_at=now()).to_document()
    password_hash = hash_password("bench password one two")
    birth = __import__("datetime").date(1990, 5, 17)
    out = []
    for n in range(members):
        cccd = "024" + cccd_century_digit(birth, "F") + "90" + f"{n:06d}"
        member, _ = registry.create(admin, {
            "full_name": "Nguyễn Thị Kim Yến", "birth_date": birth, "sex": "F",
            "personal_id": cccd, "union_code": "CD-24-BENCH"})
        session.add(MemberAccount(member_id=member.id, province_code=PROVINCE,
                                  password_hash=password_hash, pin_hash=password_hash,
                                  activated_at=now()))
        store.save(member.id, document, source="feed:bench", bundle_id=f"b-{n}")
        out.append(tokens.issue(Principal("member", member.id, "member")).access_token)
    session.commit()
    session.close()
    engine.dispose()
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(url: str, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    """gunicorn with the deploy configuration, on ``port``; returns once it answers."""
    server_env = {**os.environ, **env, "UNIONCARD_ENV": "production", "PORT": str(port),
                  "UNIONCARD_DATABASE_URL": url, "UNIONCARD_LOG_LEVEL": "WARNING",
                  "UNIONCARD_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen([str(gunicorn), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                                "app:create_app()"], cwd=ROOT, env=server_env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", MINIMAL)
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
        if process.poll() is not None:
            raise SystemExit(f"gunicorn exited with {process.returncode}")
    process.terminate()
    raise SystemExit("gunicorn did not answer within 60 s")


def hammer(port: int, path: str, tokens: list[str], seconds: float, concurrency: int) -> int:
    """Answers received in ``seconds`` from ``concurrency`` keep-alive clients (each checked)."""
    stop = time.monotonic() + seconds
    counts = [0] * concurrency
    errors: list[str] = []

    def client(i: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        n = 0
        while time.monotonic() < stop:
            token = tokens[(i + n * concurrency) % len(tokens)]
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            response = conn.getresponse()
            body = response.read()
            if response.status != 200 or (path == SUMMARY and b'"sections"' not in body):
                errors.append(f"{path}: {response.status} {body[:200]!r}")
                return
            n += 1
        counts[i] = n
        conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(errors[0])
    return sum(counts)


def run(url: str, label: str, args: argparse.Namespace) -> float:
    """Both endpoints on one database; the summary's share of the minimal endpoint's rate."""
    env = secrets_env()
    tokens = setup(url, env, args.members)
    port = free_port()
    server = serve(url, env, port)
    try:
        hammer(port, MINIMAL, tokens, 1, args.concurrency)  # warm up both
        hammer(port, SUMMARY, tokens, 1, args.concurrency)
        done = {MINIMAL: 0, SUMMARY: 0}
        for _ in range(args.rounds):
            for path in (MINIMAL, SUMMARY):
                done[path] += hammer(port, path, tokens, args.seconds, args.concurrency)
    finally:
        server.terminate()
        server.wait(30)
    span = args.rounds * args.seconds
    minimal, summary = done[MINIMAL] / span, done[SUMMARY] / span
    share = summary / minimal
    verdict = "meets" if share >= TARGET else "below"
    print(f"{label:<11}{MINIMAL} {minimal:>7.0f}/s   {SUMMARY} {summary:>6.0f}/s   "
          f"{share:>4.0%} ({verdict} the {TARGET:.0%} target)")
    return share


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on SQLite (and PostgreSQL when configured)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per turn")
    parser.add_argument("--rounds", type=int, default=3, help="turns of each endpoint")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    parser.add_argument("--members", type=int, default=40, help="members with summaries")
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; gunicorn "
          f"(deploy/gunicorn.conf.py), {args.concurrency} clients, {args.rounds} x "
          f"{args.seconds:g} s per endpoint")
    shares = []
    with fresh_database(None, "summary" + secrets.token_hex(2)) as url:
        shares.append(run(url, "SQLite", args))
    pg = os.environ.get("UNIONCARD_BENCH_PG_URL")
    if pg:
        with fresh_database(pg, "summary") as url:
            shares.append(run(url, "PostgreSQL", args))
    return 0 if all(s >= TARGET for s in shares) else 1


if __name__ == "__main__":
    raise SystemExit(main())
