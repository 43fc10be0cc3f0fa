"""My access log (``app.services.access_events.views.member_events``, as
``/api/v1/me/access-log``) and downloading my data (the right-of-access export of
``/api/v1/me/export``, JSON or FHIR, under the same per-member rate limit)."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, current_app, render_template, request

from app.composition import data_cipher
from app.edge.auth import current_member_id
from app.extensions import db, limiter
from app.services.access.export import MemberExport
from app.services.access_events import views
from app.services.errors import DomainError
from app.web.portal import bp

#: Events a page of the access log shows.
PER_PAGE = 20


@bp.get("/access-log")
def access_log() -> Any:
    """Who looked at my card or record: every clinic's verify, pull, refusal and emergency
    access, newest first."""
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    items, total = views.member_events(db.session, data_cipher(), current_member_id(),
                                       page=page, per_page=PER_PAGE)
    return render_template("portal/access_log.html", items=items, total=total, page=page,
                           pages=max(1, -(-total // PER_PAGE)))


@bp.get("/data")
def data() -> Any:
    """What the download holds, and the two download buttons."""
    return render_template("portal/data.html")


def _export_key() -> str:
    # the API's bucket: downloading from the pages counts against the same limit
    try:
        return f"export-member|{current_member_id()}"
    except DomainError:
        return f"export-address|{request.remote_addr}"


@bp.get("/data/<any(json, fhir):form>")
@limiter.shared_limit(lambda: str(current_app.config["EXPORT_RATE_LIMIT"]),
                      scope="my_export.MyExport", key_func=_export_key)
def download(form: str) -> Any:
    """Download everything held about me, as the export document or a FHIR R4 Bundle."""
    export = MemberExport(db.session, data_cipher())
    if form == "fhir":
        body, mimetype = export.fhir_bundle(current_member_id()), "application/fhir+json"
        name = "unioncard-export.fhir.json"
    else:
        body, mimetype = export.document(current_member_id()), "application/json"
        name = "unioncard-export.json"
    return Response(json.dumps(body, ensure_ascii=False), mimetype=mimetype, headers={
        "Cache-Control": "private, no-store",
        "Content-Disposition": f'attachment; filename="{name}"'})
