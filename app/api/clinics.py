"""Clinics: the directory of health facilities (administrators manage it, officers read
their province's), their OAuth 2 API clients and scanner devices; and who a clinic caller is."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.edge.auth import current_clinic, requires_clinic
from app.schemas.clinics import ClinicIdentitySchema

blp = Blueprint("clinics", __name__, url_prefix="/api/v1/clinics",
                description="Clinics (health facilities by facility code), their API clients "
                            "and scanner devices.")


@blp.route("/me")
class CallingClinic(MethodView):
    """The calling clinic."""

    @requires_clinic
    @blp.response(200, ClinicIdentitySchema)
    def get(self) -> Any:
        """Show the calling clinic API client and its clinic (a clinic token; the client and
        the clinic's accreditation are re-checked on every request)."""
        return current_clinic()
