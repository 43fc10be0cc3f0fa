"""The portal as an installable web app whose card stays on the phone without signal: its web
app manifest, its service worker (served by the service under ``/me/``, as the clinic desk's in
``app.web.scanner.offline``) and the offline page shown when nothing is kept. The worker keeps
the portal's scripts and styles, and the member's current card page (``/me/card/offline``:
the card's QR, no presence code) — only that of her data, on her own phone, deleted when she
signs out. None of these three responses holds member data, so they are open without signing
in."""

from __future__ import annotations

from typing import Any

from flask import Response, render_template, url_for
from flask_babel import gettext as _

from app.web.installable import manifest_response, worker_response
from app.web.portal import bp

#: The static files the portal needs offline (under the web blueprint's /site/).
STATIC = ("site.css", "console.css", "pages.css", "portal.css", "portal.js", "favicon.svg")
#: The cache that holds the member's card (deleted on sign-out); the static files' cache is
#: named after their digest.
CARD_CACHE = "unioncard-me-card"


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    """The portal's web app manifest (installable: opens at the card, standalone)."""
    return manifest_response(
        name=_("unioncard: my union card"), short_name=_("My card"),
        description=_("Your union card to show at the clinic, your health record and who "
                      "sees it; the card stays available without signal."),
        start_url=url_for("portal.card"), scope=url_for("portal.home"), theme_color="#0b3d91")


@bp.get("/sw.js")
def service_worker() -> Response:
    """The portal's service worker: the static files cache-first, pages from the network, and
    without network the kept card (or the offline page); signing out deletes the card."""
    return worker_response(
        "portal/sw.js", scope=url_for("portal.home"), static=STATIC, card_cache=CARD_CACHE,
        card_page=url_for("portal.card"), kept=url_for("portal.card_offline"),
        offline=url_for("portal.offline"), logout=url_for("portal.logout"))


@bp.get("/offline")
def offline() -> Any:
    """Shown without network when no card is kept on this phone (signed out, or never
    opened the card while online)."""
    return render_template("portal/offline.html")
