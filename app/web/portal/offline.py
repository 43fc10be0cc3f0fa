"""The portal as an installable web app whose card stays on the phone without signal: its web
app manifest, its service worker (served by the service under ``/me/``, as the clinic desk's in
``app.web.scanner.offline``) and the offline page shown when nothing is kept. The worker keeps
the portal's scripts and styles, and the member's current card page (``/me/card/offline``:
the card's QR, no presence code) — only that of her data, on her own phone, deleted when she
signs out. None of these three responses holds member data, so they are open without signing
in."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources
from typing import Any

from flask import Response, render_template, url_for
from flask_babel import gettext as _

from app.web.portal import bp

#: The static files the portal needs offline (under the web blueprint's /site/).
STATIC = ("site.css", "console.css", "pages.css", "portal.css", "portal.js", "favicon.svg")
#: The cache that holds the member's card (deleted on sign-out); the static files' cache is
#: named after their digest.
CARD_CACHE = "unioncard-me-card"


@cache
def _static_version() -> str:
    """A digest of the cached static files: a new release's worker replaces the old cache."""
    digest = hashlib.sha256()
    folder = resources.files("app").joinpath("web", "static")
    for name in STATIC:
        digest.update(name.encode() + b"\0" + folder.joinpath(name).read_bytes())
    return digest.hexdigest()[:16]


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    """The portal's web app manifest (installable: opens at the card, standalone)."""
    body = {
        "name": _("unioncard: my union card"), "short_name": _("My card"),
        "description": _("Your union card to show at the clinic, your health record and who "
                         "sees it; the card stays available without signal."),
        "start_url": url_for("portal.card"), "scope": url_for("portal.home"),
        "display": "standalone", "background_color": "#ffffff", "theme_color": "#0b3d91",
        "lang": "vi",
        "icons": [{"src": url_for("web.static", filename="favicon.svg"), "sizes": "any",
                   "type": "image/svg+xml", "purpose": "any"}],
    }
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")


@bp.get("/sw.js")
def service_worker() -> Response:
    """The portal's service worker: the static files cache-first, pages from the network, and
    without network the kept card (or the offline page); signing out deletes the card."""
    body = render_template(
        "portal/sw.js", version=_static_version(), card_cache=CARD_CACHE,
        static=[url_for("web.static", filename=name) for name in STATIC],
        scope=url_for("portal.home"), card_page=url_for("portal.card"),
        kept=url_for("portal.card_offline"), offline=url_for("portal.offline"),
        logout=url_for("portal.logout"))
    response = Response(body, mimetype="text/javascript")
    # a worker runs under its own script's policy: it fetches from this origin, nothing else
    response.headers["Content-Security-Policy"] = ("default-src 'none'; connect-src 'self'; "
                                                   "frame-ancestors 'none'")
    return response


@bp.get("/offline")
def offline() -> Any:
    """Shown without network when no card is kept on this phone (signed out, or never
    opened the card while online)."""
    return render_template("portal/offline.html")
