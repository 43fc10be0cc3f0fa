"""Static styles and scripts sent gzip-compressed to browsers that accept it: the pages' CSS
and JavaScript are most of what a cheap phone on a weak signal downloads before the first
paint. Pages, JSON and anything else are never compressed here (a compressed page that holds a
CSRF token next to reflected input is open to BREACH; a proxy may compress those if it judges
otherwise). A file's compressed form is made once per content and kept in memory."""

from __future__ import annotations

import gzip
import hashlib
from functools import lru_cache

from flask import Flask, Response, request

#: What is compressed: the web blueprint's static files of these types, above this size.
TYPES = frozenset({"text/css", "text/javascript", "application/javascript", "image/svg+xml",
                   "application/manifest+json"})
MIN_BYTES = 1024
STATIC_PREFIX = "/site/"


@lru_cache(maxsize=256)
def _gzipped(digest: str, body: bytes) -> bytes:  # the digest keys the cache
    return gzip.compress(body, compresslevel=9, mtime=0)


def _accepts_gzip() -> bool:
    return any(part.split(";")[0].strip().lower() in ("gzip", "*")
               for part in request.headers.get("Accept-Encoding", "").split(","))


def compress_static(response: Response) -> Response:
    """Gzip a static style or script for a browser that accepts it (a whole 200 answer only:
    not a 304, a range or an already encoded body)."""
    if (not request.path.startswith(STATIC_PREFIX) or response.status_code != 200
            or response.mimetype not in TYPES or "Content-Encoding" in response.headers
            or "Content-Range" in response.headers):
        return response
    response.vary.add("Accept-Encoding")
    length = response.content_length
    if not _accepts_gzip() or (length is not None and length < MIN_BYTES):
        return response
    source = response.response  # a file's wrapper, closed once read
    response.direct_passthrough = False
    body = response.get_data()
    close = getattr(source, "close", None)
    if close is not None:
        close()
    if len(body) < MIN_BYTES:
        return response
    response.set_data(_gzipped(hashlib.sha256(body).hexdigest(), body))
    response.headers["Content-Encoding"] = "gzip"
    etag, weak = response.get_etag()
    if etag and not weak:  # another representation of the same content: a weak validator
        response.set_etag(etag, weak=True)
    return response


def init_app(app: Flask) -> None:
    """Compress static styles and scripts on the way out."""
    app.after_request(compress_static)
