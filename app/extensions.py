"""Unbound extension objects; ``create_app`` binds them to an app."""

from __future__ import annotations

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

from app.edge.database import Database
from app.edge.problems import ProblemApi

api = ProblemApi()
db = Database()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)
