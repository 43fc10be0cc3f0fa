"""My card, shown at the clinic: the card's large QR (proves membership), and the presence QR
(valid 5 minutes) that the page refreshes by itself and with which the clinic opens what the
member shares, or her PIN — the same services as ``/api/v1/me/card`` and
``/api/v1/me/card/presence``; and the card as the portal's service worker keeps it for when the
phone has no signal (the card's QR inline, no presence code: that needs the network)."""

from __future__ import annotations

import base64
from typing import Any

from flask import Response, current_app, jsonify, render_template, request

from app import clock
from app.composition import card_desk, presence_tokens_for
from app.edge.auth import actor, current_member_id
from app.extensions import db
from app.services.access import member_accounts
from app.services.errors import NotFound
from app.services.issuing import card_files
from app.web.portal import bp
from cards.qr import make_qr


def _presence() -> dict[str, Any]:
    """A fresh presence token of the current card, its QR as a PNG data URL and its expiry."""
    card = member_accounts.current_card(db.session, current_member_id())
    tokens = presence_tokens_for(current_app.config)
    presence = tokens.issue(card.serial)
    png = base64.b64encode(make_qr(presence.token).png()).decode("ascii")
    return {"token": presence.token, "png": f"data:image/png;base64,{png}",
            "expires_at": presence.expires_at.isoformat(),
            "seconds": max(0, int((presence.expires_at - clock.now()).total_seconds()))}


@bp.get("/card")
def card() -> Any:
    """The member's profile and current card, its QR, and the presence QR."""
    member_id = current_member_id()
    profile = member_accounts.profile(db.session, member_id)
    try:
        current = member_accounts.current_card(db.session, member_id)
    except NotFound:
        current = None
    return render_template("portal/card.html", profile=profile, card=current,
                           presence=_presence() if current is not None else None,
                           activated=request.args.get("activated") == "1")


@bp.get("/card/offline")
def card_offline() -> Any:
    """The card page the service worker keeps on the phone: the card's QR inline (a data URL,
    one response to cache), no presence code (it needs the network)."""
    member_id = current_member_id()
    profile = member_accounts.profile(db.session, member_id)
    try:
        current = member_accounts.current_card(db.session, member_id)
    except NotFound:
        current = None
    qr = None
    if current is not None:
        png = card_files.render(card_desk(actor()), current, "qr.png").body
        qr = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return render_template("portal/card_offline.html", profile=profile, card=current, qr=qr,
                           kept_at=clock.now())


@bp.get("/card/qr.<any(svg, png):form>")
def card_qr(form: str = "svg") -> Any:
    """The current card's QR: the 1-bit PNG the card page shows large (about a tenth of the
    SVG's bytes, which count on a weak signal), or the SVG."""
    current = member_accounts.current_card(db.session, current_member_id())
    file = card_files.render(card_desk(actor()), current, f"qr.{form}")
    return Response(file.body, mimetype=file.media_type,
                    headers={"Cache-Control": "private, no-store"})


@bp.get("/card/presence")
def presence() -> Any:
    """A fresh presence token and its QR, for the card page's script (JSON)."""
    return jsonify(_presence())
