"""Profile of the clinic flow in one process: SQL statements and CPU per request.

Run: UNIONCARD_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
     .venv/bin/python scripts/bench/clinic_profile.py [--requests N] [--top K] [--profile]
     (without the PostgreSQL URL it runs on SQLite)

It populates a fresh database as ``clinic_flow.py`` does, then sends N requests of each kind
(verify, verify with presence + pull JSON, + pull FHIR) through the app's test client and
prints the mean time a request, the SQL statements a request (counted by an engine event
listener) and, with ``--profile``, the top functions of a cProfile run by cumulative time.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import json
import os
import pstats
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scripts.bench._db import fresh_database  # noqa: E402
from scripts.bench.clinic_flow import environment, free_port, populate, presence_tokens  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--sort", default="cumulative", help="pstats sort key (tottime, ...)")
    args = parser.parse_args()
    pg_url = os.environ.get("UNIONCARD_BENCH_PG_URL")
    with fresh_database(pg_url, "profile") as url:
        env = environment(url, free_port())
        setup = populate(env, args.members)
        from sqlalchemy import event

        from app import create_app
        from app.extensions import db

        app = create_app()
        statements: Counter[str] = Counter()

        @event.listens_for(db.engine_for(app), "before_cursor_execute")
        def count(_conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
            statements[" ".join(statement.split())[:110]] += 1

        client = app.test_client()
        basic = base64.b64encode(
            f"{setup['client_id']}:{setup['client_secret']}".encode()).decode()
        answer = client.post("/api/v1/auth/token", data={"grant_type": "client_credentials"},
                             headers={"Authorization": f"Basic {basic}"})
        auth = {"Authorization": f"Bearer {answer.get_json()['access_token']}"}
        cards = setup["cards"]
        presence = presence_tokens(env["UNIONCARD_PRESENCE_TOKEN_SECRET"],
                                   [s for _, s in cards])

        def verify(i: int) -> None:
            text, _serial = cards[i % len(cards)]
            r = client.post("/api/v1/verify", json={"uc1": text, "purpose": "treatment"},
                            headers=auth)
            assert r.status_code == 200, r.get_data(as_text=True)

        def pull(i: int, accept: str) -> None:
            text, serial = cards[i % len(cards)]
            r = client.post("/api/v1/verify", headers=auth, json={
                "uc1": text, "purpose": "treatment",
                "presence": {"presence_token": presence[serial]}})
            assert r.status_code == 200, r.get_data(as_text=True)
            grant = json.loads(r.get_data())["grant"]["token"]
            r = client.get("/api/v1/pull", headers={**auth, "X-Pull-Grant": grant,
                                                    "Accept": accept})
            assert r.status_code == 200, r.get_data(as_text=True)

        scenarios = {"verify": verify,
                     "verify+pull JSON": lambda i: pull(i, "application/json"),
                     "verify+pull FHIR": lambda i: pull(i, "application/fhir+json")}
        for name, run in scenarios.items():
            for i in range(20):  # warm-up
                run(i)
            statements.clear()
            profiler = cProfile.Profile(time.process_time) if args.profile else None
            started, cpu = time.perf_counter(), time.process_time()
            if profiler is not None:
                profiler.enable()
            for i in range(args.requests):
                run(i)
            if profiler is not None:
                profiler.disable()
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
            total = sum(statements.values())
            print(f"\n== {name}: {elapsed / args.requests * 1000:.2f} ms an operation "
                  f"({cpu / args.requests * 1000:.2f} ms CPU), "
                  f"{total / args.requests:.1f} SQL statements an operation")
            for statement, n in statements.most_common():
                print(f"  {n / args.requests:5.2f}  {statement}")
            if profiler is not None:
                profiler.dump_stats(f"/tmp/clinic_profile_{name.replace(' ', '_')}.prof")
                pstats.Stats(profiler).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
