"""The REST API: one flask-smorest Blueprint per resource."""

from __future__ import annotations

from flask_smorest import Api


def register(api: Api) -> None:
    """Register every API blueprint."""
    from app.api import (
        access_events,
        admin,
        auth,
        card_batches,
        cards,
        clinic_flow,
        clinics,
        consents,
        exam_rounds,
        health_feeds,
        health_records,
        jobs,
        me,
        members,
        my_access_log,
        my_export,
        my_health,
        my_presence,
        pin_locks,
        publication,
        system,
        transfers,
        unions,
        users,
    )
    from app.api import imports as roster_imports

    api.register_blueprint(system.blp)
    api.register_blueprint(auth.blp)
    api.register_blueprint(users.blp)
    api.register_blueprint(unions.blp)
    api.register_blueprint(members.blp)
    api.register_blueprint(roster_imports.blp)
    api.register_blueprint(jobs.blp)
    api.register_blueprint(cards.blp)
    api.register_blueprint(publication.blp)
    api.register_blueprint(admin.blp)
    api.register_blueprint(card_batches.blp)
    api.register_blueprint(transfers.blp)
    api.register_blueprint(health_feeds.blp)
    api.register_blueprint(health_records.blp)
    api.register_blueprint(me.blp)
    api.register_blueprint(consents.blp)
    api.register_blueprint(consents.notices_blp)
    api.register_blueprint(my_health.blp)
    api.register_blueprint(my_presence.blp)
    api.register_blueprint(pin_locks.blp)
    api.register_blueprint(clinics.blp)
    api.register_blueprint(my_access_log.blp)
    api.register_blueprint(access_events.blp)
    api.register_blueprint(clinic_flow.blp)
    api.register_blueprint(my_export.blp)
    api.register_blueprint(exam_rounds.blp)
