"""Request metrics (count and latency by route template, method and status) and the
``/metrics`` endpoint, which exists only when ``UNIONCARD_METRICS_TOKEN`` is set and answers only
requests bearing that token (404 otherwise, as if it did not exist)."""

from __future__ import annotations

import hmac
import time

from flask import Flask, Response, abort, g, request

from app import metrics

#: The route label of a request that matched no route (so scanners cannot add labels).
UNMATCHED = "(unmatched)"


def _start() -> None:
    g.metrics_started = time.perf_counter()


def _observe(response: Response) -> Response:
    started = g.pop("metrics_started", None)
    if started is None:
        return response
    rule = request.url_rule
    route = rule.rule if rule is not None else UNMATCHED
    method = request.method if request.method in _METHODS else "OTHER"
    labels = {"method": method, "route": route, "status": str(response.status_code)}
    metrics.HTTP_REQUESTS.labels(**labels).inc()
    metrics.HTTP_LATENCY.labels(**labels).observe(time.perf_counter() - started)
    return response


_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def init_app(app: Flask) -> None:
    """Count every request; serve ``/metrics`` when a token is configured."""
    app.before_request(_start)
    app.after_request(_observe)
    token = str(app.config.get("METRICS_TOKEN") or "")
    if not token:
        return

    def serve_metrics() -> Response:
        given = request.headers.get("Authorization", "")
        if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            abort(404)
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type,
                        headers={"Cache-Control": "no-store"})

    app.add_url_rule("/metrics", "metrics", serve_metrics, methods=["GET"])
