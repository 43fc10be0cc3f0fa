"""Benchmark: the clinic flow under gunicorn on 127.0.0.1 with 16 concurrent clients.

Run: UNIONCARD_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
     .venv/bin/python scripts/bench/clinic_flow.py [--seconds S] [--members N] [--workers W]
     [--floors] [--only SCENARIO ...]
     (without the PostgreSQL URL it runs on SQLite)

It makes a fresh database with N members, each with a card, a stored health summary (a shipped
IPS Bundle) and consents (emergency core, allergies, conditions: all accredited clinics,
treatment), and an accredited clinic with an API client; starts gunicorn with the project's
configuration (deploy/gunicorn.conf.py; W worker processes, rate limiting off so the limits do
not cut the measurement); gets the clinic's token by the client credentials grant; then runs
each scenario for S seconds with 16 clients (4 processes x 4 threads, keep-alive):

- ``minimal``: GET /healthz, the app's minimal JSON endpoint (the reference rate);
- ``verify``: POST /api/v1/verify with a card's UC1 text (purpose treatment, no presence);
- ``verify+pull JSON``: verify with the phone's presence token, then GET /api/v1/pull with the
  grant (one operation = both requests); the presence token, not the PIN: a PIN is checked
  with argon2 on purpose, which would measure the password hash rather than the flow;
- ``verify+pull FHIR``: the same with ``Accept: application/fhir+json``.

Issue 11's targets: verify >= 50% of the minimal rate with p99 < 100 ms; verify+pull JSON
>= 30%; FHIR >= 25%.

``--floors`` serves the same app with two bench-only endpoints (``scripts/bench/floor_app.py``)
and measures them too: ``floor: 1 SELECT`` (a GET reading one row by primary key) and ``floor:
1 INSERT+COMMIT`` (a POST appending one access-event-sized row, committed by the edge). No
verify can be faster than the write floor (it reads more, and appends its access event
durably), so its ratio to ``minimal`` is the ceiling of verify's on this machine.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scripts.bench._db import fresh_database  # noqa: E402

CLIENT_PROCESSES = 4
THREADS_PER_PROCESS = 4  # 16 concurrent clients
NAMES = ("An", "Bình", "Cường", "Dũng", "Đức", "Giang", "Hải", "Hùng", "Khánh", "Long")
TARGETS = {"verify": 0.50, "verify+pull JSON": 0.30, "verify+pull FHIR": 0.25}
#: ``--floors``: the least a clinic request does against the database (scripts/bench/floor_app.py)
FLOORS = {"floor: 1 SELECT": ("GET", "/bench/floor/read"),
          "floor: 1 INSERT+COMMIT": ("POST", "/bench/floor/write")}


def environment(url: str, port: int) -> dict[str, str]:
    """The service's environment: fresh random secrets, the database, rate limiting off."""
    return {**os.environ,
            "UNIONCARD_ENV": "development", "UNIONCARD_DATABASE_URL": url, "PORT": str(port),
            "UNIONCARD_SECRET_KEY": secrets.token_urlsafe(48),
            "UNIONCARD_DATA_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "UNIONCARD_LOOKUP_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
            "UNIONCARD_KEY_PASSPHRASE": secrets.token_urlsafe(24),
            "UNIONCARD_PRESENCE_TOKEN_SECRET": secrets.token_urlsafe(48),
            "UNIONCARD_RATELIMIT_ENABLED": "false", "UNIONCARD_LOG_LEVEL": "WARNING",
            "UNIONCARD_ROOT": str(ROOT)}


def populate(env: dict[str, str], members: int) -> dict[str, Any]:
    """Members with cards, summaries and consents, and a clinic client; what the clients
    need (card texts and serials, the client's credentials)."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("UNIONCARD_")})
    from app import create_app
    from app.clock import now as utc_now
    from app.composition import card_desk_for, cipher_for_config
    from app.extensions import db
    from app.models import Union
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal
    from app.services.clinics.clients import ClinicClients
    from app.services.clinics.register import ClinicRegister
    from app.services.health.consent import ConsentService, Evidence, Grantee
    from app.services.health.fhir_in import parse_bundle
    from app.services.health.store import HealthStore
    from app.services.registry.identity import cccd_century_digit
    from app.services.registry.members import MemberRegistry

    app = create_app()
    admin = Scope(Principal("user", 0, "admin"))
    session = db.new_session(app, write=True)
    cipher = cipher_for_config(app.config)
    session.add(Union(code="CDCS-24-BENCH", name="CĐCS Bench", province_code="24"))
    session.flush()
    clinic = ClinicRegister(session, admin, actor="bench").create({
        "facility_code": "27001", "name": "Phòng khám KCN Quế Võ", "province_code": "24",
        "facility_type": "industrial-park-clinic"})
    login = ClinicClients(session, cipher, actor="bench").create(clinic, "bench")
    session.commit()
    raw = (ROOT / "app" / "data" / "fhir" / "yen-7412345678.json").read_bytes()
    document = parse_bundle(raw, health_id="7412345678", feed="bench",
                            received_at=utc_now()).to_document()
    registry = MemberRegistry(session, cipher, actor="bench")
    desk = card_desk_for(app, session, "bench")
    store = HealthStore(session, cipher, actor="bench")
    consents = ConsentService(session, on_card_changed=lambda _m: None)
    cards = []
    for n in range(members):
        birth = date(1980 + n % 20, 1 + n % 12, 1 + n % 28)
        member, _ = registry.create(admin, {
            "full_name": f"Nguyễn Văn {NAMES[n % len(NAMES)]}", "birth_date": birth, "sex": "M",
            "personal_id": "024" + cccd_century_digit(birth, "M") + f"{birth.year % 100:02d}"
                           + f"{n:06d}", "union_code": "CDCS-24-BENCH"})
        card = desk.issue_for(member).card
        store.save(member.id, document, source="bench", bundle_id=f"b-{n}")
        for scope in ("emergency-core", "allergies", "conditions"):
            consents.grant(member.id, scope, Grantee.all_accredited(), "treatment",
                           Evidence(method="app", actor="bench"),
                           ends_at=utc_now() + timedelta(days=90))
        cards.append((desk.text(card), card.serial))
        if n % 50 == 49:
            session.commit()
    session.commit()
    session.close()
    db.engine_for(app).dispose()
    return {"cards": cards, "client_id": login.client.client_id,
            "client_secret": login.client_secret}


def make_floor_table(url: str) -> None:
    """The write floor's table, in the benchmark's throw-away database."""
    from sqlalchemy import create_engine, text

    from scripts.bench.floor_app import TABLE_DDL

    engine = create_engine(url)
    serial = "BIGSERIAL" if url.startswith("postgresql") else "INTEGER"
    with engine.begin() as conn:
        conn.execute(text(TABLE_DDL.format(serial=serial)))
    engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def clinic_token(port: int, client_id: str, secret: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    conn.request("POST", "/api/v1/auth/token", body="grant_type=client_credentials",
                 headers={"Authorization": f"Basic {basic}",
                          "Content-Type": "application/x-www-form-urlencoded"})
    response = conn.getresponse()
    body = json.loads(response.read())
    if response.status != 200:
        raise SystemExit(f"no clinic token: {body}")
    return str(body["access_token"])


def presence_tokens(secret: str, serials: list[str]) -> dict[str, str]:
    from app.services.clinic_flow.presence import PresenceTokens

    tokens = PresenceTokens(secret)
    return {serial: tokens.issue(serial).token for serial in serials}


def _one(conn: http.client.HTTPConnection, method: str, path: str, body: Any = None,
         headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    hdrs = dict(headers or {})
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=hdrs)
    response = conn.getresponse()
    return response.status, response.read()


def operation(conn: http.client.HTTPConnection, scenario: str, card: tuple[str, str],
              ctx: dict[str, Any]) -> bool:
    """One operation of ``scenario``; whether it succeeded."""
    auth = {"Authorization": f"Bearer {ctx['token']}"}
    if scenario == "minimal":
        return _one(conn, "GET", "/healthz")[0] == 200
    if scenario in FLOORS:
        method, path = FLOORS[scenario]
        return _one(conn, method, path, None if method == "GET" else {})[0] == 200
    text, serial = card
    body: dict[str, Any] = {"uc1": text, "purpose": "treatment"}
    if scenario == "verify":
        status, _ = _one(conn, "POST", "/api/v1/verify", body, auth)
        return status == 200
    body["presence"] = {"presence_token": ctx["presence"][serial]}
    status, raw = _one(conn, "POST", "/api/v1/verify", body, auth)
    if status != 200:
        return False
    grant = json.loads(raw)["grant"]["token"]
    accept = "application/fhir+json" if scenario.endswith("FHIR") else "application/json"
    status, _ = _one(conn, "GET", "/api/v1/pull", None,
                     {**auth, "X-Pull-Grant": grant, "Accept": accept})
    return status == 200


def client_process(port: int, scenario: str, seconds: float, ctx: dict[str, Any],
                   offset: int, out: Any) -> None:
    """THREADS_PER_PROCESS clients, each on its own keep-alive connection, for ``seconds``."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds
    cards = ctx["cards"]

    def run(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine: list[float] = []
        bad = 0
        i = offset * THREADS_PER_PROCESS + k
        while time.monotonic() < stop:
            card = cards[i % len(cards)]
            i += CLIENT_PROCESSES * THREADS_PER_PROCESS
            t0 = time.perf_counter()
            try:
                ok = operation(conn, scenario, card, ctx)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                ok = False
            mine.append(time.perf_counter() - t0)
            bad += not ok
        with lock:
            latencies.extend(mine)
            failures[0] += bad

    threads = [threading.Thread(target=run, args=(k,)) for k in range(THREADS_PER_PROCESS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((latencies, failures[0]))


def measure(port: int, scenario: str, seconds: float, ctx: dict[str, Any]) -> dict[str, Any]:
    """Run ``scenario`` with 16 clients; its rate, latencies and failures."""
    queue: Any = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=client_process,
                                     args=(port, scenario, seconds, ctx, p, queue))
             for p in range(CLIENT_PROCESSES)]
    started = time.monotonic()
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = max(seconds, time.monotonic() - started - 0.0)
    latencies = sorted(x for lat, _ in results for x in lat)
    failures = sum(f for _, f in results)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {"scenario": scenario, "ops": len(latencies), "rate": len(latencies) / elapsed,
            "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000, "failures": failures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--floors", action="store_true",
                        help="also measure the floors of scripts/bench/floor_app.py: one "
                             "SELECT, one INSERT committed (the ceiling of any ratio here)")
    parser.add_argument("--only", action="append", default=[],
                        help="run only this scenario (repeatable; minimal always runs)")
    args = parser.parse_args()
    pg_url = os.environ.get("UNIONCARD_BENCH_PG_URL")
    with fresh_database(pg_url, "clinic") as url:
        port = free_port()
        env = environment(url, port)
        print(f"database: {'PostgreSQL' if pg_url else 'SQLite'}; populating "
              f"{args.members} members ...", flush=True)
        setup = populate(env, args.members)
        scenarios = ["minimal", *(FLOORS if args.floors else ()), *TARGETS]
        if args.only:
            scenarios = ["minimal", *(s for s in scenarios[1:] if s in args.only)]
        if args.floors:
            make_floor_table(url)
        server = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "-c", "deploy/gunicorn.conf.py",
             "--workers", str(args.workers), "--threads", str(args.threads),
             "--access-logfile", "/dev/null",
             "scripts.bench.floor_app:create_app()" if args.floors else "app:create_app()"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_ready(port)
            ctx = {"cards": setup["cards"],
                   "token": clinic_token(port, setup["client_id"], setup["client_secret"])}
            results = []
            for scenario in scenarios:
                # fresh presence tokens (they last 5 minutes) for each scenario
                ctx["presence"] = presence_tokens(env["UNIONCARD_PRESENCE_TOKEN_SECRET"],
                                                  [s for _, s in setup["cards"]])
                measure(port, scenario, min(3.0, args.seconds), ctx)  # warm-up
                results.append(measure(port, scenario, args.seconds, ctx))
                r = results[-1]
                print(f"{scenario:18s} {r['rate']:8.1f} ops/s  p50 {r['p50_ms']:6.1f} ms  "
                      f"p99 {r['p99_ms']:6.1f} ms  failures {r['failures']}", flush=True)
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
    base = results[0]["rate"]
    print(f"\n16 clients, gunicorn {args.workers} workers x {args.threads} threads, "
          f"{args.seconds:g} s a scenario")
    for r in results[1:]:
        ratio = r["rate"] / base
        if r["scenario"] in FLOORS:
            print(f"{r['scenario']:18s} {ratio:6.1%} of minimal (a ceiling, no target)")
            continue
        target = TARGETS[r["scenario"]]
        verdict = "met" if ratio >= target and (r["scenario"] != "verify"
                                                or r["p99_ms"] < 100) else "NOT met"
        print(f"{r['scenario']:18s} {ratio:6.1%} of minimal (target {target:.0%}"
              f"{', p99 < 100 ms' if r['scenario'] == 'verify' else ''}): {verdict}")


if __name__ == "__main__":
    main()
