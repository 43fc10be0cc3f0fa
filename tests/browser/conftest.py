"""Browser tests: the service runs in this process (a werkzeug server thread on a free port,
over a temporary SQLite database with the demo data), and Playwright drives Debian's headless
Chromium (``UNIONCARD_CHROMIUM``, default /usr/bin/chromium). Without that browser every test
here is skipped, saying so. Each page visited is checked with axe-core (shipped inside the
axe-playwright-python package) and photographed at phone and desktop widths into
build/screenshots/ (gitignored; ``UNIONCARD_SCREENSHOTS_DIR`` elsewhere), or into the README's
docs/screenshots/ only when asked: ``UNIONCARD_REFRESH_SCREENSHOTS=1`` (so a test run leaves
the tree as it was)."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TEST_CONFIG, invoke

CHROMIUM = os.environ.get("UNIONCARD_CHROMIUM", "/usr/bin/chromium")
_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = (_ROOT / "docs" / "screenshots"
               if os.environ.get("UNIONCARD_REFRESH_SCREENSHOTS") == "1" else
               Path(os.environ.get("UNIONCARD_SCREENSHOTS_DIR") or _ROOT / "build" / "screenshots"))
#: The app behind ``site`` (tests prepare data through its services).
SITE_APP: dict[str, Any] = {}
#: Viewport sizes: a common phone and a desk screen.
WIDTHS = {"phone": (390, 844), "desktop": (1280, 900)}
#: axe-core impacts that fail a test.
BLOCKING = ("serious", "critical")
#: The demo officer of Bắc Ninh (app/services/demo.py).
OFFICER = ("officer.bn", "demo-officer-2026")

if not Path(CHROMIUM).exists():
    pytest.skip(f"browser tests skipped: no Chromium at {CHROMIUM} (apt-get install chromium, "
                "or set UNIONCARD_CHROMIUM)", allow_module_level=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The browser tests share one live site, a worker thread and real Chromium on a small
    machine: a test that times out is run again, twice at most (pytest-rerunfailures), so a
    busy moment does not fail CI; a real failure fails on every try."""
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.flaky(reruns=2, reruns_delay=3))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="package")
def site(tmp_path_factory: pytest.TempPathFactory, cheap_password_hashing: None
         ) -> Iterator[str]:
    """The service with the demo data, served on a free port, with a ``unioncard worker`` in a
    thread for its jobs (imports, card batches); its base URL. Package-scoped: the worker
    stops when the browser tests are done, before any other test starts one of its own."""
    from werkzeug.serving import make_server

    from app import create_app, migrate
    from app.extensions import db
    from tests.app.worker_helpers import running_worker

    root = tmp_path_factory.mktemp("browser-site")
    url = f"sqlite:///{root / 'unioncard.db'}"
    migrate.upgrade(url)
    port = _free_port()
    app = create_app({**TEST_CONFIG, "DATABASE_URL": url, "ROOT": str(root),
                      "IMPORT_DIR": str(root / "imports"), "CARD_BATCH_DIR": str(root / "batches"),
                      "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                      # the modules share the demo members: several activate the same one
                      # within minutes (the limits themselves are tested in tests/app)
                      "ACTIVATION_RATE_LIMIT": "100 per 15 minutes",
                      # and the demo cards are checked by many tests within a minute
                      "VERIFY_CARD_RATE_LIMIT": "1000 per minute",
                      # and the demo officer signs in in many of them
                      "LOGIN_RATE_LIMIT": "1000 per minute",
                      "LOGIN_ADDRESS_RATE_LIMIT": "1000 per minute"})
    loaded = invoke(app, "demo", "load")
    assert loaded.exit_code == 0, loaded.output
    SITE_APP["app"] = app
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with running_worker(app):
        yield f"http://127.0.0.1:{port}"
    server.shutdown()
    thread.join(10)
    db.engine_for(app).dispose()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Any]:
    """Playwright (one per test session: a test launching its own browser uses this one)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright: Any) -> Iterator[Any]:
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"])
    yield chromium
    chromium.close()


@pytest.fixture
def page(browser: Any, site: str) -> Iterator[Any]:
    """A fresh browser profile (no cookies) at desktop width, on the site."""
    context = browser.new_context(base_url=site, viewport=dict(zip(
        ("width", "height"), WIDTHS["desktop"], strict=True)), locale="vi-VN")
    context.set_default_timeout(15_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error"
           and not _refused_page(tab, msg) else None)
    yield tab
    context.close()
    assert errors == [], f"script errors or CSP violations in the browser: {errors}"


def _refused_page(tab: Any, message: Any) -> bool:
    """Whether ``message`` is Chromium's note on the page itself answering 4xx (a refusal a
    test asked for); a failing script, style or image still counts as an error."""
    return (message.text.startswith("Failed to load resource: the server responded with a "
                                    "status of 4")
            and message.location.get("url") == tab.url)


def sign_in(page: Any, username: str = OFFICER[0], password: str = OFFICER[1]) -> None:
    page.goto("/console/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.locator("main button[type=submit]").click()
    page.wait_for_url("**/console/members")


def check_page(page: Any, name: str, *, any_impact: bool = False,
               leave_at: str = "desktop") -> None:
    """At each width: axe-core finds no serious or critical violation (with ``any_impact``: no
    violation at all, minor included, as the desk, portal and console pages are held to), and
    a screenshot; the page is left at the width ``leave_at``."""
    from axe_playwright_python.sync_playwright import Axe

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        results = Axe().run(page)
        blocking = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
                    for v in results.response["violations"]
                    if any_impact or v["impact"] in BLOCKING]
        assert blocking == [], f"{name} ({label}): accessibility violations {blocking}"
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(dict(zip(("width", "height"), WIDTHS[leave_at], strict=True)))
