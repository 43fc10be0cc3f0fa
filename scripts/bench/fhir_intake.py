"""Benchmark: FHIR R4 intake (parse + validate with fhir.resources + map) of the shipped bundles.

Run: .venv/bin/python scripts/bench/fhir_intake.py [--seconds S] [--rounds R]

Prints, per shipped IPS Bundle (20-35 entries) and for all of them in turn, the bundles per second
on one core: by CPU time of this process (robust to other processes on the machine) and by wall
time, best of R rounds; and the share of the time spent in fhir.resources' validation. Issue 10's
target for the whole feed push (this part, plus encryption and storage) is >= 200 bundles/s.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.services.health import fhir_in  # noqa: E402
from app.services.health.fhir_out import build_document  # noqa: E402

NOW = datetime(2025, 11, 5, tzinfo=UTC)
TARGET = 200


def fixtures() -> list[tuple[str, bytes]]:
    """(health ID, bytes) of every shipped Bundle."""
    folder = resources.files("app") / "data" / "fhir"
    return sorted((p.name.rsplit("-", 1)[1].removesuffix(".json"), p.read_bytes())
                  for p in folder.iterdir() if p.name.endswith(".json"))


def rates(fn: Callable[[], object], seconds: float) -> tuple[float, float]:
    """Calls per CPU second and per wall second of ``fn`` over roughly ``seconds``."""
    n, cpu, wall = 0, time.process_time(), time.perf_counter()
    while True:
        for _ in range(20):
            fn()
        n += 20
        elapsed = time.perf_counter() - wall
        if elapsed >= seconds:
            return n / max(time.process_time() - cpu, 1e-9), n / elapsed


def best(fn: Callable[[], object], seconds: float, rounds: int) -> tuple[float, float]:
    """Best CPU and wall rates over ``rounds``."""
    results = [rates(fn, seconds) for _ in range(rounds)]
    return max(r[0] for r in results), max(r[1] for r in results)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (best kept)")
    args = parser.parse_args(argv)

    bundles = fixtures()
    print(f"{'bundle':<14}{'entries':>8}{'bytes':>8}{'cpu/s':>9}{'wall/s':>9}"
          f"{'entries/s':>11}")
    for health_id, raw in bundles:
        summary = fhir_in.parse_bundle(raw, health_id=health_id, feed="bench", received_at=NOW)
        entries = raw.count(b'"fullUrl"')

        def intake(raw: bytes = raw, health_id: str = health_id) -> object:
            return fhir_in.parse_bundle(raw, health_id=health_id, feed="bench", received_at=NOW)

        cpu, wall = best(intake, args.seconds, args.rounds)
        print(f"{health_id:<14}{entries:>8}{len(raw):>8}{cpu:>9.0f}{wall:>9.0f}"
              f"{cpu * entries:>11.0f}")
        assert summary.occ_exams

    cycle = iter(())

    def mixed() -> object:
        nonlocal cycle
        item = next(cycle, None)
        if item is None:
            cycle = iter(bundles)
            item = next(cycle)
        return fhir_in.parse_bundle(item[1], health_id=item[0], feed="bench", received_at=NOW)

    cpu, wall = best(mixed, args.seconds, args.rounds)
    mean_entries = sum(raw.count(b'"fullUrl"') for _, raw in bundles) / len(bundles)
    print(f"{'all, in turn':<14}{mean_entries:>8.1f}{'':>8}{cpu:>9.0f}{wall:>9.0f}"
          f"{cpu * mean_entries:>11.0f}")
    print(f"at 20 entries a bundle: about {cpu * mean_entries / 20:.0f} bundles/s by CPU")

    # how much of it is fhir.resources' validation (the resources one by one, as fhir_in does)
    import json

    docs = [json.loads(raw) for _, raw in bundles]

    def validate_only() -> None:
        for doc in docs:
            for e in doc["entry"]:
                fhir_in.MODELS[e["resource"]["resourceType"]].model_validate(e["resource"])

    v_cpu, _ = best(validate_only, args.seconds, args.rounds)
    share = (cpu / (v_cpu * len(docs)))
    print(f"validation alone: {v_cpu * len(docs):.0f} bundles/s by CPU; "
          f"it is {share:.0%} of the intake time")
    summary = fhir_in.parse_bundle(bundles[0][1], health_id=bundles[0][0], feed="bench",
                                   received_at=NOW)
    out_cpu, _ = best(lambda: build_document(summary, now=NOW), args.seconds, args.rounds)
    print(f"output (build_document, plain dicts): {out_cpu:.0f} documents/s by CPU")
    verdict = "meets" if cpu >= TARGET else "is below"
    print(f"intake {cpu:.0f} bundles/s per core {verdict} the push target of {TARGET}/s "
          f"(before encryption and storage)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
