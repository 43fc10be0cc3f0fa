"""The member portal (phone first): activation, sign-in, my card with its QR and the presence
QR, consents, my access log and my data — signed in with a session cookie and calling the same
services and scope checks as the member's API (``/api/v1/me``)."""

from __future__ import annotations

from flask import Blueprint

from app.edge.page_auth import page_member
from app.web.pages import guard_blueprint

bp = Blueprint("portal", __name__, url_prefix="/me")
#: The media type of the portal's forms.
FORM = "application/x-www-form-urlencoded"
#: Pages open to anyone: signing in and activating an account, and the installable web app's
#: manifest, service worker and offline page (no member data in them).
PUBLIC_ENDPOINTS = {"portal.login", "portal.activate", "portal.manifest",
                    "portal.service_worker", "portal.offline"}


guard_blueprint(bp, public=PUBLIC_ENDPOINTS, signed_in=page_member, login="portal.login",
                error_template="portal/error.html")


def _register_views() -> None:
    from app.web.portal import (  # noqa: F401
        account,
        card,
        consents,
        exam_rounds,
        health,
        offline,
        records,
    )


_register_views()
