"""Benchmark: the feed push (validate with fhir.resources, map, encrypt, store) on SQLite and
PostgreSQL, one process and two.

Run: .venv/bin/python scripts/bench/feed_push.py [--bundles N] [--batch B]
     (UNIONCARD_BENCH_PG_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test adds PostgreSQL)

Each member gets their own copy of a shipped IPS Bundle (20-35 entries) carrying their health
ID, so every push stores a new record. Measured through ``FeedPush`` (the service the endpoints
call), by wall time and by the pushing processes' CPU time (which other processes on a busy
machine do not inflate): one Bundle per write transaction (``POST /api/v1/health-records``), a batch of B per
write (``POST /api/v1/health-records/$batch``), and that batch push in two processes at once
(two feeds' clients on this 2-core machine). Issue 10's target is >= 200 bundles/s.
"""

from __future__ import annotations

import argparse
import copy
import json
import multiprocessing
import os
import secrets
import sys
import time
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from scripts.bench._db import fresh_database  # noqa: E402

TARGET = 200
PROVINCE = "24"


def fixtures() -> list[dict[str, Any]]:
    """Every shipped Bundle, parsed."""
    folder = resources.files("app") / "data" / "fhir"
    return [json.loads(p.read_bytes()) for p in sorted(folder.iterdir(), key=lambda p: p.name)
            if p.name.endswith(".json")]


def bundle_for(template: dict[str, Any], health_id: str, n: int) -> dict[str, Any]:
    """A copy of ``template`` about the patient with ``health_id`` (its own Bundle id)."""
    from app.services.health import systems as sy

    b = copy.deepcopy(template)
    b["identifier"] = {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:bench-{n}"}
    for entry in b["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "Patient":
            for identifier in resource.get("identifier", []):
                if identifier.get("system") == sy.HEALTH_ID:
                    identifier["value"] = health_id
    return b


def cipher() -> Any:
    """A data cipher with fixed bench keys (every process the same)."""
    from app.crypto import DataCipher

    return DataCipher([b"b" * 32], lookup_key=b"l" * 32)


def sessions(url: str) -> Any:
    """A session factory on a new engine."""
    from sqlalchemy.orm import sessionmaker

    from app.db import make_engine

    return sessionmaker(bind=make_engine(url), expire_on_commit=False)


def setup(url: str, members: int) -> tuple[int, list[str]]:
    """A feed serving the province and ``members`` linked members; (feed id, health IDs)."""
    from app.models import Union
    from app.services.access.scope import Scope
    from app.services.access.tokens import Principal
    from app.services.health.feeds import FeedClients
    from app.services.health.store import HealthStore
    from app.services.registry.identity import cccd_century_digit

    admin = Scope(Principal("user", 0, "admin"))
    session = sessions(url)()
    session.add(Union(code="CD-24-BENCH", name="CĐCS Bench", province_code=PROVINCE))
    session.commit()
    feed = FeedClients(session, cipher(), actor="bench").create("bench", [PROVINCE]).feed
    store = HealthStore(session, cipher(), actor="bench")
    birth = date(1990, 5, 17)
    ids = []
    for n in range(members):
        cccd = "024" + cccd_century_digit(birth, "F") + "90" + f"{n:06d}"
        member, _ = store.registry.create(admin, {
            "full_name": "Nguyễn Thị Kim Yến", "birth_date": birth, "sex": "F",
            "personal_id": cccd, "union_code": "CD-24-BENCH"})
        health_id = f"{7_000_000_000 + n}"
        store.link(admin, member.id, health_id)
        ids.append(health_id)
        if n % 500 == 499:
            session.commit()
    session.commit()
    session.close()
    return feed.id, ids


def push(url: str, feed_id: int, bundles: list[dict[str, Any]],
         batch: int) -> tuple[float, float]:
    """Push ``bundles`` (one a write when ``batch`` is 1); (wall, CPU) seconds taken."""
    from app.models import HealthFeed
    from app.services.health.push import FeedPush

    session = sessions(url)()
    feed = session.get(HealthFeed, feed_id)
    assert feed is not None
    service = FeedPush(session, cipher(), feed)
    session.commit()
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(bundles), batch):
        if batch == 1:
            assert service.push(bundles[i]).status == "stored"
        else:
            outcomes = service.push_batch(bundles[i:i + batch])
            assert all(o.status == "stored" for o in outcomes), outcomes[0]
    elapsed = time.perf_counter() - start, time.process_time() - cpu
    session.close()
    return elapsed


def _worker(args: tuple[str, int, list[dict[str, Any]], int, Any]) -> tuple[float, float]:
    url, feed_id, bundles, batch, barrier = args
    barrier.wait()
    return push(url, feed_id, bundles, batch)


def run(url: str, label: str, n: int, batch: int) -> dict[str, tuple[float, float]]:
    """The three measurements on one database."""
    templates = fixtures()
    feed_id, ids = setup(url, 4 * n)
    bundles = [bundle_for(templates[i % len(templates)], hid, i) for i, hid in enumerate(ids)]
    rates: dict[str, tuple[float, float]] = {}
    wall, cpu = push(url, feed_id, bundles[:n], 1)
    rates["one a write, 1 process"] = n / wall, n / cpu
    wall, cpu = push(url, feed_id, bundles[n:2 * n], batch)
    rates[f"batches of {batch}, 1 process"] = n / wall, n / cpu
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Manager().Barrier(2)
    halves = [bundles[2 * n:3 * n], bundles[3 * n:]]
    start = time.perf_counter()
    with ctx.Pool(2) as pool:
        times = pool.map(_worker, [(url, feed_id, half, batch, barrier) for half in halves])
    rates[f"batches of {batch}, 2 processes"] = (2 * n / (time.perf_counter() - start),
                                                 sum(n / c for _, c in times))
    for what, (rate, per_cpu) in rates.items():
        verdict = "meets" if rate >= TARGET else "below"
        print(f"{label:<11}{what:<30}{rate:>7.0f}/s wall ({verdict} {TARGET}/s); "
              f"{per_cpu:>5.0f}/s by the pushing processes' CPU time")
    return rates


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on SQLite (and PostgreSQL when configured)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=int, default=400, help="bundles per measurement")
    parser.add_argument("--batch", type=int, default=50, help="bundles per batch")
    args = parser.parse_args(argv)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"{args.bundles} bundles per measurement")
    with fresh_database(None, "feed" + secrets.token_hex(2)) as url:
        run(url, "SQLite", args.bundles, args.batch)
    pg = os.environ.get("UNIONCARD_BENCH_PG_URL")
    if pg:
        with fresh_database(pg, "feed") as url:
            run(url, "PostgreSQL", args.bundles, args.batch)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
