"""The worker's periodic duties beside its jobs (a thread of their own in each ``unioncard
worker``), so that a deployment needs no cron lines for them:

- **outbox**: send the members' e-mail notifications (emergency access) every
  ``NOTIFY_EVERY_SECONDS`` (default 60) when SMTP is configured — what ``unioncard
  notifications deliver`` does once;
- **checkpoint**: seal the access log's chains with a checkpoint every
  ``AUDIT_CHECKPOINT_SECONDS`` (default 3600) — what ``unioncard audit checkpoint`` does once —
  its digest logged (``unioncard.audit``), so the journal keeps it outside the database;
- **on-card**: reissue, without the emergency core, the cards whose ``on-card`` consent has
  lapsed, every ``ON_CARD_REFRESH_SECONDS`` (default a day) — what ``unioncard cards
  refresh-on-card`` does once;
- **exam-results**: send the exam rounds' results to the national health record
  (``HEALTH_FHIR_URL``) every ``EXAM_DELIVERY_EVERY_SECONDS`` (default 30), from their outbox
  (``app.services.exams.delivery``: a row is claimed with a lease; every entry is a
  conditional create, so a repeat stores nothing twice);
- **pin-presence**: delete the bindings of expired presence tokens and the clinic clients'
  wrong-PIN windows older than 7 days, every ``PIN_PRESENCE_PRUNE_SECONDS`` (default an hour).

Several workers may run them at once: a message is never sent twice (the outbox claims it with
a lease), a checkpoint is skipped when another was made within the interval, and a card is
reissued under its member's row lock only if it still carries a core nothing covers. A duty
that fails is logged and tried again at its next time; it never stops the worker. 0 turns a
duty off.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import Flask

log = logging.getLogger("unioncard.worker")
audit_log = logging.getLogger("unioncard.audit")


@dataclass
class Duty:
    """Something the worker does every ``every`` seconds (the first time at once)."""

    name: str
    every: float
    run: Callable[[], object]
    next_at: float = 0.0

    def run_if_due(self, now: float | None = None) -> bool:
        """Run the duty if its time has come (a failure is logged); whether it ran."""
        now = time.monotonic() if now is None else now
        if now < self.next_at:
            return False
        self.next_at = now + self.every
        try:
            self.run()
        except Exception:  # a database or SMTP hiccup: again at the next time
            log.exception("the %s duty failed", self.name)
        return True


def periodic_duties(app: Flask) -> list[Duty]:
    """The duties the app's configuration turns on."""
    duties = [d for d in (outbox_duty(app), checkpoint_duty(app), on_card_duty(app),
                          pin_presence_duty(app), exam_results_duty(app))
              if d is not None]
    for duty in duties:
        log.info("worker duty %s every %g s", duty.name, duty.every)
    return duties


def outbox_duty(app: Flask) -> Duty | None:
    """Send the due outbox messages; None when SMTP is not configured (or unsafe: said once
    in the log) or the interval is 0."""
    from app.composition import notification_delivery

    every = float(app.config["NOTIFY_EVERY_SECONDS"])
    if every <= 0 or not app.config["SMTP_HOST"]:
        return None
    try:
        delivery = notification_delivery(app)
    except ValueError as exc:
        log.warning("e-mail notifications are not sent: %s", exc)
        return None

    def send() -> None:
        report = delivery.run(limit=1000)
        if report.sent or report.retrying or report.failed or report.uncertain:
            log.info("outbox: sent %s, retrying later %s, failed %s, no address %s, "
                     "uncertain %s", report.sent, report.retrying, report.failed,
                     report.no_address, report.uncertain)
        if report.stopped:
            log.warning("outbox delivery stopped: %s", report.stopped)

    return Duty("outbox", every, send)


def checkpoint_duty(app: Flask) -> Duty | None:
    """Make an access-log checkpoint unless one was made within the interval; None when the
    interval is 0."""
    every = float(app.config["AUDIT_CHECKPOINT_SECONDS"])
    if every <= 0:
        return None
    return Duty("checkpoint", every, lambda: seal_chains(app, timedelta(seconds=every)))


def seal_chains(app: Flask, interval: timedelta) -> bool:
    """One checkpoint of the access log's chains, unless another was made less than
    ``interval`` ago (by another worker, or the CLI); whether one was made."""
    from app.clock import now
    from app.composition import checkpoint_key
    from app.extensions import db
    from app.services.access_events.checkpoints import latest_checkpoint, make_checkpoint
    from app.services.errors import CheckpointConflict

    session = db.new_session(app, write=True)
    try:
        latest = latest_checkpoint(session)
        if latest is not None and latest.at > now() - interval * 0.9:
            return False
        made = make_checkpoint(session, actor="worker", key=checkpoint_key(app.config))
        session.commit()
    except CheckpointConflict:  # another worker's, at the same moment
        session.rollback()
        return False
    finally:
        session.close()
    audit_log.info("access checkpoint %s digest %s heads %s", made.id, made.digest, made.heads)
    return True


def on_card_duty(app: Flask) -> Duty | None:
    """Reissue the cards whose on-card consent lapsed; None when the interval is 0."""
    every = float(app.config["ON_CARD_REFRESH_SECONDS"])
    if every <= 0:
        return None
    return Duty("on-card", every, lambda: refresh_on_card(app))


def refresh_on_card(app: Flask) -> int:
    """One run of the on-card refresh in a transaction of its own; the cards reissued."""
    from app.composition import card_desk_for
    from app.extensions import db
    from app.services.health.on_card import refresh_lapsed

    session = db.new_session(app, write=True)
    try:
        result = refresh_lapsed(card_desk_for(app, session, "system:refresh-on-card"),
                                after_each=session.commit)  # one member's locks at a time
        session.commit()
    finally:
        session.close()
    if result.reissued:
        log.info("on-card refresh: %s card(s) reissued without the emergency core for reprint",
                 len(result.reissued))
    return len(result.reissued)


def pin_presence_duty(app: Flask) -> Duty | None:
    """Prune expired presence bindings and old wrong-PIN windows; None when the interval
    is 0."""
    every = float(app.config["PIN_PRESENCE_PRUNE_SECONDS"])
    if every <= 0:
        return None
    return Duty("pin-presence", every, lambda: prune_pin_presence(app))


def prune_pin_presence(app: Flask) -> tuple[int, int]:
    """One pruning in a transaction of its own: the presence bindings and the wrong-PIN
    windows deleted."""
    from app.clock import now
    from app.extensions import db
    from app.services.access.pin_guard import prune_client_windows
    from app.services.clinic_flow.presence import prune_bindings

    session = db.new_session(app, write=True)
    try:
        moment = now()
        bindings = prune_bindings(session, moment)
        windows = prune_client_windows(session, moment)
        session.commit()
    finally:
        session.close()
    if bindings or windows:
        log.info("pin-presence: %s expired presence binding(s) and %s old wrong-PIN "
                 "window(s) deleted", bindings, windows)
    return bindings, windows


def exam_results_duty(app: Flask) -> Duty | None:
    """Send the due exam results to the national health record; None when no FHIR server is
    configured or the interval is 0."""
    every = float(app.config["EXAM_DELIVERY_EVERY_SECONDS"])
    if every <= 0 or not app.config["HEALTH_FHIR_URL"]:
        return None
    return Duty("exam-results", every, lambda: deliver_exam_results(app))


def deliver_exam_results(app: Flask) -> int:
    """One run of the exam results' outbox; the results sent."""
    from app.composition import cipher_for_config, pull_settings
    from app.extensions import db
    from app.services.exams.delivery import Delivery
    from app.services.health.fhir_client import FhirPullClient

    settings = pull_settings(app.config)

    def client() -> FhirPullClient:
        return FhirPullClient(settings.url, token=settings.token or None,
                              timeout=settings.timeout, retries=settings.retries)

    report = Delivery(lambda: db.new_session(app, write=True), cipher_for_config(app.config),
                      client).run()
    if report.sent or report.retrying or report.failed or report.reclaimed:
        log.info("exam results: sent %s, retrying later %s, failed %s, sent again after a "
                 "stopped run %s", report.sent, report.retrying, report.failed,
                 report.reclaimed)
    if report.stopped:
        log.warning("exam results delivery stopped: %s", report.stopped)
    return report.sent
