"""What makes a page area an installable web app (the clinic desk, the member portal): its web
app manifest, its service worker's response, and the digest that names the worker's cache of
static files, so a release with other files replaces the cache."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib import resources

from flask import Response, render_template, url_for

#: A worker runs under its own script's policy: it fetches from this origin, nothing else.
WORKER_CSP = "default-src 'none'; connect-src 'self'; frame-ancestors 'none'"


@cache
def static_version(names: tuple[str, ...]) -> str:
    """A digest of the static files ``names`` (under the web blueprint's /site/)."""
    digest = hashlib.sha256()
    folder = resources.files("app").joinpath("web", "static")
    for name in names:
        digest.update(name.encode() + b"\0" + folder.joinpath(name).read_bytes())
    return digest.hexdigest()[:16]


def manifest_response(*, name: str, short_name: str, description: str, start_url: str,
                      scope: str, theme_color: str) -> Response:
    """A web app manifest: standalone, the site's icon, Vietnamese by default."""
    body = {
        "name": name, "short_name": short_name, "description": description,
        "start_url": start_url, "scope": scope, "display": "standalone",
        "background_color": "#ffffff", "theme_color": theme_color, "lang": "vi",
        "icons": [{"src": url_for("web.static", filename="favicon.svg"), "sizes": "any",
                   "type": "image/svg+xml", "purpose": "any"}],
    }
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")


def worker_response(template: str, *, scope: str, static: tuple[str, ...],
                    **context: object) -> Response:
    """The service worker rendered from ``template`` with its scope, the URLs of ``static``
    and their digest (``version``), under the worker's own content policy."""
    body = render_template(template, scope=scope, version=static_version(static),
                           static=[url_for("web.static", filename=n) for n in static], **context)
    response = Response(body, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = scope
    response.headers["Content-Security-Policy"] = WORKER_CSP
    return response
