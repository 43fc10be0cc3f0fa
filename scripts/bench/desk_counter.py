"""Benchmark: the clinic desk at the counter, in Chromium, against the service as
``scripts/serve`` runs it (gunicorn with deploy/gunicorn.conf.py, the embedded SQLite database
with the demo data, rate limits on), on 127.0.0.1.

Run: .venv/bin/python scripts/bench/desk_counter.py [--rounds 3] [--cards 30]
     (needs Chromium: Debian's /usr/bin/chromium, or UNIONCARD_CHROMIUM)

A clerk's handheld QR reader types each demo card's text into the desk's code field and
presses Enter; the figure is the time from that Enter (the code read) to the verdict on screen,
as the desk's own script records it (``window.deskScanner.timings``). Then the network is cut
(``context.set_offline``) and the same cards are checked by the offline check, in the browser,
against the trust bundle its service worker keeps. Issue 20's targets: p95 <= 500 ms online,
<= 100 ms offline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
CHROMIUM = os.environ.get("UNIONCARD_CHROMIUM", "/usr/bin/chromium")
CLINIC = "27015"  # a demo clinic (app/services/demo.py)
ONLINE_TARGET_MS, OFFLINE_TARGET_MS = 500.0, 100.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(work: Path, port: int) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    """Migrate, load the demo and start gunicorn as scripts/serve does (no worker: the desk
    needs none)."""
    env = {**os.environ, "UNIONCARD_ENV": "development", "UNIONCARD_ROOT": str(work),
           "UNIONCARD_DATABASE_URL": f"sqlite:///{work / 'unioncard.db'}", "PORT": str(port),
           "UNIONCARD_LOG_LEVEL": "WARNING",
           "PROMETHEUS_MULTIPROC_DIR": str(work / "metrics")}
    (work / "metrics").mkdir(parents=True)
    bin_dir = Path(sys.executable).parent
    for command in (["db", "upgrade"], ["demo", "load"]):
        subprocess.run([str(bin_dir / "unioncard"), *command], env=env, check=True,
                       cwd=work, capture_output=True)
    server = subprocess.Popen([str(bin_dir / "gunicorn"), "-c", str(ROOT / "deploy" /
                                                                   "gunicorn.conf.py"),
                               "app:create_app()"], env=env, cwd=work,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1):
                return server, env
        except OSError:
            time.sleep(0.2)
    server.terminate()
    raise SystemExit("the service did not start")


def card_texts(env: dict[str, str], limit: int) -> list[str]:
    """The demo members' current cards, as their QR codes hold them."""
    os.environ.update({k: v for k, v in env.items() if k.startswith("UNIONCARD_")})
    from sqlalchemy import select

    from app import create_app
    from app.composition import card_desk_for
    from app.extensions import db
    from app.models import Card, CardStatus

    app = create_app()
    with app.app_context(), db.new_session(app) as session:
        cards = session.scalars(select(Card).where(Card.status == CardStatus.ACTIVE)
                                .order_by(Card.id).limit(limit)).all()
        desk = card_desk_for(app, session, "bench")
        return [desk.text(card) for card in cards]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def run(page: Any, context: Any, texts: list[str], rounds: int) -> dict[str, list[float]]:
    page.goto("/clinic/login")
    page.fill("#client_id", f"clinic-{CLINIC}-demo")
    page.fill("#client_secret", f"demo-clinic-{CLINIC}-2026")
    page.locator("main button[type=submit]").click()
    page.wait_for_url("**/clinic/")
    page.wait_for_function("() => Boolean(navigator.serviceWorker.controller)")
    online: list[float] = []
    for _ in range(rounds):
        for text in texts:
            done = int(page.evaluate("() => window.deskScanner.timings.length"))
            page.fill("#uc1", text)
            page.press("#uc1", "Enter")
            page.wait_for_function("n => window.deskScanner.timings.length > n", arg=done)
        online = [float(t["ms"]) for t in page.evaluate("() => window.deskScanner.timings")]
    statuses = {t["status"] for t in page.evaluate("() => window.deskScanner.timings")}
    context.set_offline(True)
    page.goto("/clinic/")  # the worker answers with the offline check
    page.wait_for_selector("#offline-desk[data-ready=true]")
    offline: list[float] = []
    for _ in range(rounds):
        for text in texts:
            before = int(page.locator("#offline-desk").get_attribute("data-checks") or 0)
            page.fill("#offline-text", text)
            page.press("#offline-text", "Enter")
            page.wait_for_function("n => Number(document.getElementById('offline-desk')"
                                   ".dataset.checks || 0) > n", arg=before)
            offline.append(float(page.locator("#offline-desk").get_attribute("data-check-ms")))
            assert page.locator("#verdict").get_attribute("data-status") == "valid"
    context.set_offline(False)
    print(f"online verdicts: {sorted(statuses)}")
    return {"online": online, "offline": offline}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cards", type=int, default=30)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="unioncard-desk-bench-"))
    port = free_port()
    server, env = serve(work, port)
    try:
        texts = card_texts(env, args.cards)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM,
                                        args=["--no-sandbox", "--disable-dev-shm-usage"])
            context = browser.new_context(base_url=f"http://127.0.0.1:{port}",
                                          viewport={"width": 1280, "height": 900})
            context.set_default_timeout(30_000)
            figures = run(context.new_page(), context, texts, args.rounds)
            browser.close()
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    for name, target in (("online", ONLINE_TARGET_MS), ("offline", OFFLINE_TARGET_MS)):
        values = figures[name]
        p95 = percentile(values, 0.95)
        print(f"{name:8} n={len(values):4}  p50 {statistics.median(values):7.1f} ms  "
              f"p95 {p95:7.1f} ms  max {max(values):7.1f} ms  target p95 <= {target:.0f} ms: "
              f"{'met' if p95 <= target else 'NOT met'}")


if __name__ == "__main__":
    main()
