"""The app of ``clinic_flow.py --floors``: the service's own app (``create_app()``: the same
hooks, logging, metrics, session handling and edge commit) with two bench-only endpoints that
do the least any clinic request must do against the database, to show the ceiling of a ratio
to ``/healthz`` on this machine:

- ``GET /bench/floor/read``: one SELECT by primary key (a reading request: the reader session);
- ``POST /bench/floor/write``: one INSERT of an access-event-sized row, committed by the edge
  (a writing request: BEGIN, INSERT, COMMIT), as each verify and pull must append its event.

Never part of the service: gunicorn loads ``scripts.bench.floor_app:create_app()`` only here.
"""

from __future__ import annotations

import os

from flask import Flask, jsonify
from sqlalchemy import text

from app import create_app as create_service
from app.extensions import db

#: The table of the write floor, made by ``clinic_flow.py`` in its throw-away database.
TABLE_DDL = ("CREATE TABLE bench_floor (id {serial} PRIMARY KEY, at VARCHAR(40) NOT NULL, "
             "body TEXT NOT NULL)")
_ROW = "x" * 400  # about what an access event row holds (ids, kind, purpose, hashes)


def create_app() -> Flask:
    """The service's app with the two floor endpoints."""
    app = create_service()

    @app.get("/bench/floor/read")
    def floor_read() -> object:
        card_id = db.session.execute(text("SELECT id FROM cards WHERE id = 1")).scalar()
        return jsonify(card=card_id)

    @app.post("/bench/floor/write")
    def floor_write() -> object:
        db.session.execute(text("INSERT INTO bench_floor (at, body) VALUES (:at, :body)"),
                           {"at": os.urandom(8).hex(), "body": _ROW})
        return jsonify(written=True)

    return app
