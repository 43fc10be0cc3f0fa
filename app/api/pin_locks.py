"""Administrators' view of PIN guessing: which members' PINs are locked until when, which
clinic clients reached the wrong-PIN cap, and clearing a member's lock."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.clock import now as utc_now
from app.composition import member_login_policy
from app.edge.auth import ADMIN, actor, requires
from app.edge.problems import ProblemSchema
from app.extensions import db
from app.schemas.pin_locks import PinLocksSchema, PinUnlockSchema
from app.services.access import pin_guard

blp = Blueprint("pin_locks", __name__, url_prefix="/api/v1",
                description="PIN guessing: locked PINs and capped clinic clients "
                            "(administrators).")


@blp.route("/pin-locks")
class PinLocks(MethodView):
    """Locked PINs and capped clinic clients."""

    @requires(*ADMIN)
    @blp.response(200, PinLocksSchema)
    @blp.alt_response(403, schema=ProblemSchema, description="Administrators only")
    def get(self) -> Any:
        """The members whose PIN is locked now (until when, the how-manieth lock in a row)
        and the clinic clients that reached the wrong-PIN cap in the last 7 days."""
        config = current_app.config
        now = utc_now()
        policy = member_login_policy(config)
        window = int(config["PIN_CLIENT_WINDOW_SECONDS"])
        cap = int(config["PIN_CLIENT_MAX_FAILURES"])
        return {
            "members": pin_guard.locked_pins(db.session, now),
            "clients": pin_guard.capped_clients(db.session, now, max_failures=cap,
                                                window_seconds=window),
            "member_max_failures": policy.pin_max_failures,
            "member_lock_seconds": [policy.pin_lock_seconds, *policy.pin_relock_seconds],
            "client_max_failures": cap, "client_window_seconds": window}


@blp.route("/members/<int:member_id>/pin-lock")
class MemberPinLock(MethodView):
    """A member's PIN lock."""

    @requires(*ADMIN)
    @blp.response(200, PinUnlockSchema)
    @blp.alt_response(403, schema=ProblemSchema, description="Administrators only")
    @blp.alt_response(404, schema=ProblemSchema, description="No such member, or no account")
    def delete(self, member_id: int) -> Any:
        """Clear the member's PIN lock, wrong PINs and run of locks (administrators;
        audited as `member.pin_unlocked`)."""
        was_locked = pin_guard.clear_pin_lock(db.session, member_id, actor=actor(),
                                              now=utc_now())
        return {"member_id": member_id, "was_locked": was_locked}
