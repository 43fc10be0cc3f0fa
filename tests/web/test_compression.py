"""Static styles and scripts go gzip-compressed to browsers that accept it; pages never do."""

from __future__ import annotations

import gzip

import pytest
from flask.testing import FlaskClient


@pytest.mark.parametrize("path", ["/site/console.css", "/site/scanner.js",
                                  "/site/uc1/cbor.js"])
def test_a_style_or_script_is_compressed_for_a_browser_that_accepts_it(
        client: FlaskClient, path: str) -> None:
    with client.get(path) as plain, client.get(path, headers={
            "Accept-Encoding": "br;q=1.0, gzip;q=0.8"}) as packed:
        assert plain.status_code == packed.status_code == 200
        assert "Content-Encoding" not in plain.headers
        assert packed.headers["Content-Encoding"] == "gzip"
        assert "Accept-Encoding" in packed.headers["Vary"]
        assert gzip.decompress(packed.data) == plain.data
        assert len(packed.data) < len(plain.data) / 2
        etag = packed.headers["ETag"]
        assert etag.startswith('W/"')  # another representation of the same content
    with client.get(path, headers={"Accept-Encoding": "gzip", "If-None-Match": etag}) as again:
        assert again.status_code == 304


def test_pages_and_tiny_files_are_not_compressed(client: FlaskClient) -> None:
    for path in ("/clinic/login", "/me/login", "/site/site.css", "/healthz"):
        with client.get(path, headers={"Accept-Encoding": "gzip"}) as response:
            assert response.status_code == 200
            assert "Content-Encoding" not in response.headers, path
