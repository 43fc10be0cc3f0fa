"""The clinic scanner: a clinic's desk in the browser — sign in with the clinic API client's
credentials, scan the member's card (camera, photo or pasted text), see the verdict, take the
member's PIN and show what the member shared, or use emergency access. It calls the same
clinic desk service (``app.services.clinic_flow``), access log and checks as
``/api/v1/verify``, ``/api/v1/pull`` and ``/api/v1/emergency-access``."""

from __future__ import annotations

from flask import Blueprint

from app.edge.page_auth import page_clinic
from app.web.pages import guard_blueprint

bp = Blueprint("scanner", __name__, url_prefix="/clinic")
#: Pages open to anyone: signing in, and the offline desk (manifest, service worker, the offline
#: check), which hold no member data.
PUBLIC_ENDPOINTS = {"scanner.login", "scanner.manifest", "scanner.service_worker",
                    "scanner.offline"}


guard_blueprint(bp, public=PUBLIC_ENDPOINTS, signed_in=page_clinic, login="scanner.login",
                error_template="scanner/error.html")


def _register_views() -> None:
    from app.web.scanner import desk, exam_rounds, offline, signin  # noqa: F401


_register_views()
