"""The desk as an installable web app that keeps verifying when the network drops: its web
app manifest, its service worker (which keeps the desk's pages, scripts, the trust bundle and
the pinned root key cached) and the offline check page, which verifies a card in the browser
(``/site/uc1/``, exactly as docs/uc1.md specifies) against the cached trust bundle. None of
them holds member data, so they are open without signing in."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from app.composition import ensure_root_key, publisher_for
from app.extensions import db
from app.models.reference import Province
from app.web.installable import manifest_response, worker_response
from app.web.scanner import bp

#: The static files the desk needs offline (under the web blueprint's /site/).
STATIC = ("site.css", "console.css", "pages.css", "favicon.svg", "scanner.js",
          "desk-offline.js", "uc1/verify.js", "uc1/base45.js", "uc1/bundle.js", "uc1/cbor.js",
          "uc1/claims.js", "uc1/cose.js", "uc1/errors.js", "uc1/inflate.js", "uc1/jose.js",
          "uc1/unicode14.js")


@bp.get("/manifest.webmanifest")
def manifest() -> Response:
    """The desk's web app manifest (installable: opens at the scan page, standalone)."""
    return manifest_response(
        name=_("unioncard clinic desk"), short_name=_("Clinic desk"),
        description=_("Check union cards and open what the member shares; card checks keep "
                      "working offline."),
        start_url=url_for("scanner.scan"), scope=url_for("scanner.scan"),
        theme_color="#0b5394")


@bp.get("/sw.js")
def service_worker() -> Response:
    """The desk's service worker: its cache holds the offline page, the desk's scripts and
    styles, the trust bundle and the root key; the pages themselves are fetched from the
    network first and fall back to the offline page."""
    return worker_response(
        "scanner/sw.js", scope=url_for("scanner.scan"), static=STATIC,
        offline=url_for("scanner.offline"), bundle=url_for("publication.TrustBundleView"),
        root_key=url_for("publication.RootKey"))


@bp.get("/offline")
def offline() -> Any:
    """The offline check: a card's text (handheld scanner, pasted, or the camera where the
    browser decodes QR codes) verified in the browser against the cached trust bundle, with
    the root key pinned in the page."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    ensure_root_key(app)
    root = publisher_for(app, db.session).root_jwk()
    names = {code: name for code, name in db.session.execute(
        select(Province.code, Province.name))}
    return render_template("scanner/offline.html", root_jwk=json.dumps(root, sort_keys=True),
                           provinces=json.dumps(names, ensure_ascii=False),
                           hotline=str(app.config["DESK_HOTLINE"]),
                           bundle_url=url_for("publication.TrustBundleView"),
                           verifier_url=url_for("web.static", filename="uc1/verify.js"))
