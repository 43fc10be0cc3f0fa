"""The composition root: builds the services' collaborators (cipher, key store, card desk,
publisher, token service) from the app's configuration, one function each."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, current_app
from sqlalchemy.orm import Session

from app.crypto import DataCipher

T = TypeVar("T")

if TYPE_CHECKING:
    from app.queue import JobQueue
    from app.services.access.accounts import LoginPolicy
    from app.services.access.member_accounts import MemberLoginPolicy
    from app.services.access.pin_guard import PinClientCap
    from app.services.access.tokens import TokenService
    from app.services.access_events.delivery import Delivery
    from app.services.access_events.log import AccessLog
    from app.services.access_events.views import FlagPolicy
    from app.services.health.consent import ConsentService
    from app.services.health.pull import PullSettings
    from app.services.issuing.batches import BatchSettings
    from app.services.issuing.issuance import CardDesk, CardSettings
    from app.services.issuing.keys import KeyStore
    from app.services.issuing.publication import Publisher
    from app.services.jobs import Launch
    from app.services.registry.imports import ImportSettings


def cipher_for_config(config: Mapping[str, Any]) -> DataCipher:
    """The cipher for data at rest: the newest key first, then ``DATA_KEYS_PREVIOUS``."""
    from app.config import decode_data_key

    previous = str(config["DATA_KEYS_PREVIOUS"] or "")
    keys = [config["DATA_KEY_BYTES"]]
    keys += [decode_data_key(k.strip()) for k in previous.split(",") if k.strip()]
    return DataCipher(keys, lookup_key=decode_data_key(str(config["LOOKUP_KEY"]), "LOOKUP_KEY"))


def _once_per_app(name: str, build: Callable[[Mapping[str, Any]], T]) -> T:
    """The current app's ``name`` collaborator, built from its config on first use."""
    key = f"unioncard.{name}"
    if key not in current_app.extensions:
        current_app.extensions[key] = build(current_app.config)
    return current_app.extensions[key]  # type: ignore[no-any-return]


def data_cipher() -> DataCipher:
    """The current app's cipher (built once per app)."""
    return _once_per_app("cipher", cipher_for_config)


def token_service_for(config: Mapping[str, Any]) -> TokenService:
    """The token service: API access tokens signed with ``SECRET_KEY``."""
    from app.services.access.tokens import TokenService

    return TokenService(str(config["SECRET_KEY"]), issuer=str(config["TOKEN_ISSUER"]),
                        ttl_seconds=int(config["TOKEN_TTL_SECONDS"]))


def token_service() -> TokenService:
    """The current app's token service (built once per app)."""
    return _once_per_app("tokens", token_service_for)


def login_policy(config: Mapping[str, Any]) -> LoginPolicy:
    """How many wrong passwords lock an account's password login, and for how long."""
    from app.services.access import login_names
    from app.services.access.accounts import LoginPolicy

    return LoginPolicy(max_failures=int(config["LOGIN_MAX_FAILURES"]),
                       lock_seconds=int(config["LOGIN_LOCK_SECONDS"]),
                       name_key=login_names.keyer(cipher_for_config(config)))


def member_login_policy(config: Mapping[str, Any]) -> MemberLoginPolicy:
    """How many wrong member passwords or PINs lock them, and for how long."""
    from app.services.access import login_names
    from app.services.access.member_accounts import MemberLoginPolicy

    return MemberLoginPolicy(
        password_max_failures=int(config["MEMBER_LOGIN_MAX_FAILURES"]),
        password_lock_seconds=int(config["MEMBER_LOGIN_LOCK_SECONDS"]),
        pin_max_failures=int(config["MEMBER_PIN_MAX_FAILURES"]),
        pin_lock_seconds=int(config["MEMBER_PIN_LOCK_SECONDS"]),
        pin_relock_seconds=tuple(int(s) for s in config["MEMBER_PIN_RELOCK_SECONDS"]),
        name_key=login_names.keyer(cipher_for_config(config)))


def pin_client_cap(config: Mapping[str, Any], client_id: str, clinic_code: str) -> PinClientCap:
    """A clinic client's cap on wrong PINs across members (``PIN_CLIENT_MAX_FAILURES`` in
    each window of ``PIN_CLIENT_WINDOW_SECONDS``)."""
    from app.services.access.pin_guard import PinClientCap

    return PinClientCap(client_id, clinic_code,
                        max_failures=int(config["PIN_CLIENT_MAX_FAILURES"]),
                        window_seconds=int(config["PIN_CLIENT_WINDOW_SECONDS"]))


def card_settings(config: Mapping[str, Any]) -> CardSettings:
    """Card issuing settings."""
    from app.services.issuing.issuance import CardSettings

    return CardSettings(issuer=str(config["CARD_ISSUER"]),
                        issuer_name=str(config["CARD_ISSUER_NAME"]),
                        validity_days=int(config["CARD_VALIDITY_DAYS"]),
                        public_base_url=str(config["PUBLIC_BASE_URL"]),
                        activation_days=int(config["ACTIVATION_CODE_DAYS"]))


def key_store(session: Session, config: Mapping[str, Any], actor: str) -> KeyStore:
    """The key store for a session, its private keys sealed with ``KEY_PASSPHRASE``."""
    from app.services.issuing.keys import KeyStore

    return KeyStore(session, str(config["KEY_PASSPHRASE"]), actor=actor)


def card_desk_for(app: Flask, session: Session, actor: str) -> CardDesk:
    """A card desk outside a request (CLI, jobs); the member's on-card consent decides the
    emergency core of the cards it issues."""
    from app.services.health.on_card import OnCardCore
    from app.services.issuing.issuance import CardDesk

    cipher = cipher_for_config(app.config)
    return CardDesk(session, cipher, key_store(session, app.config, actor),
                    card_settings(app.config), actor=actor,
                    emergency_core=OnCardCore(session, cipher))


def card_desk(actor: str) -> CardDesk:
    """The card desk of the current app and request session, acting for ``actor``."""
    from app.extensions import db

    return card_desk_for(current_app._get_current_object(),  # type: ignore[attr-defined]
                         db.session, actor)


def consent_service_for(app: Flask, session: Session, actor: str) -> ConsentService:
    """The consent service outside a request, its grantees checked against the clinic
    directory; an on-card change reissues the card through the card desk acting for
    ``actor``."""
    from app.services.clinics.directory import ClinicDirectory
    from app.services.health.consent import ConsentService
    from app.services.health.on_card import reissue_for_consent

    # a consent to one facility names a clinic of the clinic directory
    return ConsentService(session, directory=ClinicDirectory(session),
                          on_card_changed=reissue_for_consent(card_desk_for(app, session, actor)))


def consent_service(actor: str) -> ConsentService:
    """The consent service of the current app and request session."""
    from app.extensions import db

    return consent_service_for(current_app._get_current_object(),  # type: ignore[attr-defined]
                               db.session, actor)


def publisher_for(app: Flask, session: Session) -> Publisher:
    """The publisher of JWKS, status lists and trust bundle."""
    from app.services.issuing.publication import Publisher

    return Publisher(session, key_store(session, app.config, "system"),
                     base_url=str(app.config["PUBLIC_BASE_URL"]))


def ensure_root_key(app: Flask) -> None:
    """Make sure the trust-bundle root key exists, creating it in its own short write
    transaction, so the public GET endpoints that need it never write in their own."""
    from app.extensions import db
    from app.services.issuing.keys import ROOT, ROOT_ISSUER

    with db.new_session(app) as reader:
        present = key_store(reader, app.config, "system").active(ROOT_ISSUER, ROOT) is not None
    if not present:
        writer = db.new_session(app, write=True)
        try:
            key_store(writer, app.config, "system").ensure(ROOT_ISSUER, ROOT)
            writer.commit()
        finally:
            writer.close()


def import_settings(config: Mapping[str, Any]) -> ImportSettings:
    """Roster import settings from a config mapping."""
    from app.services.registry.imports import ImportSettings
    from app.services.registry.roster import Limits

    return ImportSettings(limits=Limits(max_bytes=int(config["IMPORT_MAX_BYTES"]),
                                        max_rows=int(config["IMPORT_MAX_ROWS"]),
                                        max_cell=int(config["IMPORT_MAX_CELL"])),
                          batch_size=int(config["IMPORT_BATCH_SIZE"]),
                          directory=Path(str(config["IMPORT_DIR"])))


def batch_settings(config: Mapping[str, Any]) -> BatchSettings:
    """Card batch settings from a config mapping."""
    from app.services.issuing.batches import BatchSettings

    return BatchSettings(root=Path(str(config["CARD_BATCH_DIR"])), batch_size=int(config["CARD_BATCH_SIZE"]),
                         sheet_cards=int(config["CARD_BATCH_SHEET_CARDS"]),
                         workers=int(config["CARD_BATCH_WORKERS"]))


def job_launcher(app: Flask) -> Launch:
    """How the app runs a job: on the queue, for a ``unioncard worker``, or at once
    (``JOBS_SYNC``, for tests); a failure is logged and recorded on the job."""
    from app.extensions import db
    from app.services import jobs

    def sessions() -> Session:
        return db.new_session(app)

    if app.config["JOBS_SYNC"]:
        return functools.partial(jobs.run_logged, sessions)
    queue = job_queue(app)

    def enqueue(job_id: str, work: jobs.Work) -> None:
        # the worker rebuilds the work from the job's row; only the id travels
        queue.enqueue(job_id)

    return enqueue


def job_queue(app: Flask) -> JobQueue:
    """The app's background-job queue (made once per app from ``QUEUE_URL``)."""
    from app.queue import make_queue

    queue: JobQueue | None = app.extensions.get("unioncard.queue")
    if queue is None:
        queue = app.extensions["unioncard.queue"] = make_queue(app.config)
    return queue


def pull_settings(config: Mapping[str, Any]) -> PullSettings:
    """The FHIR server pulled when a member is linked (``HEALTH_FHIR_URL`` empty: none)."""
    from app.services.health.pull import PullSettings

    return PullSettings(url=str(config["HEALTH_FHIR_URL"] or ""),
                        token=str(config["HEALTH_FHIR_TOKEN"] or ""),
                        timeout=float(config["HEALTH_FHIR_TIMEOUT"]),
                        retries=int(config["HEALTH_FHIR_RETRIES"]))


def dedicated_secret(config: Mapping[str, Any], name: str) -> str:
    """The secret ``name`` (``PRESENCE_TOKEN_SECRET``, ``PULL_GRANT_SECRET``), or when it is
    unset one derived from ``SECRET_KEY`` under that name's own label (so one leaked token
    kind never signs another)."""
    import hashlib
    import hmac

    value = config.get(name)
    if value:
        return str(value)
    return hmac.new(str(config["SECRET_KEY"]).encode(), f"unioncard:{name}".encode(),
                    hashlib.sha256).hexdigest()


if TYPE_CHECKING:
    from app.services.clinic_flow.grants import PullGrants
    from app.services.clinic_flow.presence import PresenceTokens
    from app.services.clinic_flow.scan import ScanLimits


def presence_tokens_for(config: Mapping[str, Any]) -> PresenceTokens:
    """The presence-token service (the phone's dynamic QR)."""
    from app.services.clinic_flow.presence import PresenceTokens

    return PresenceTokens(dedicated_secret(config, "PRESENCE_TOKEN_SECRET"))


def pull_grants_for(config: Mapping[str, Any]) -> PullGrants:
    """The pull-grant service."""
    from app.services.clinic_flow.grants import PullGrants

    return PullGrants(dedicated_secret(config, "PULL_GRANT_SECRET"))


def scan_limits(config: Mapping[str, Any]) -> ScanLimits:
    """The bounds on a scanned photo."""
    from app.services.clinic_flow.scan import ScanLimits

    return ScanLimits(max_bytes=int(config["SCAN_MAX_BYTES"]),
                      max_pixels=int(config["SCAN_MAX_PIXELS"]),
                      max_decoded_pixels=int(config["SCAN_MAX_DECODED_PIXELS"]),
                      decode_side=int(config["SCAN_DECODE_SIDE"]),
                      timeout_seconds=float(config["SCAN_DECODE_SECONDS"]),
                      per_client=int(config["SCAN_DECODES_PER_CLIENT"]),
                      threads=int(config["SCAN_DECODE_THREADS"]))


def access_log_for(app: Flask, session: Session) -> AccessLog:
    """The access log outside a request (CLI, jobs): appends to the members' hash chains."""
    from app.services.access_events.log import AccessLog

    return AccessLog(session, cipher_for_config(app.config))


def access_log(session: Session) -> AccessLog:
    """The access log of the current app over ``session`` (usually the request's)."""
    from app.services.access_events.log import AccessLog

    return AccessLog(session, data_cipher())


def checkpoint_key(config: Mapping[str, Any]) -> bytes:
    """The key that signs and checks the access log's checkpoints: ``AUDIT_CHECKPOINT_KEY``
    (production refuses to start without it), else one derived from ``SECRET_KEY`` under its
    own label."""
    return dedicated_secret(config, "AUDIT_CHECKPOINT_KEY").encode("utf-8")


def emergency_flag_policy(config: Mapping[str, Any]) -> FlagPolicy:
    """When a clinic's repeated emergency access is flagged to administrators."""
    from datetime import timedelta

    from app.services.access_events.views import FlagPolicy

    return FlagPolicy(threshold=int(config["EMERGENCY_FLAG_THRESHOLD"]),
                      window=timedelta(hours=float(config["EMERGENCY_FLAG_WINDOW_HOURS"])))


def notification_delivery(app: Flask) -> Delivery:
    """The outbox's delivery over SMTP, each step in a short transaction of its own.

    Raises:
        ValueError: the SMTP settings are missing or unsafe.
    """
    from datetime import timedelta

    from app.extensions import db
    from app.services.access_events.delivery import Delivery, RetryPolicy, SmtpSettings

    config = app.config
    settings = SmtpSettings(host=str(config["SMTP_HOST"] or ""), port=int(config["SMTP_PORT"]),
                            sender=str(config["SMTP_FROM"] or ""),
                            tls=str(config["SMTP_TLS"]).lower(),
                            username=str(config["SMTP_USERNAME"] or ""),
                            password=str(config["SMTP_PASSWORD"] or ""),
                            timeout=float(config["SMTP_TIMEOUT"]),
                            ca_file=str(config["SMTP_CA_FILE"] or ""))
    policy = RetryPolicy(max_attempts=int(config["NOTIFY_MAX_ATTEMPTS"]),
                         base=timedelta(seconds=float(config["NOTIFY_RETRY_SECONDS"])),
                         lease=timedelta(seconds=float(config["NOTIFY_SENDING_LEASE_SECONDS"])))
    # the portal page a member can open from the e-mail (the API route needs a bearer token)
    url = str(config["PUBLIC_BASE_URL"]).rstrip("/") + "/me/access-log"
    return Delivery(lambda: db.new_session(app, write=True), cipher_for_config(config),
                    settings, policy, access_log_url=url)
def on_summary_changed_for(app: Flask, actor: str) -> Callable[[Session], Callable[[int], object]]:
    """What runs after a member's health summary changed (push or pull), given the writing
    session: the card of a member with an active on-card consent is reissued when its
    emergency core changed (``app.services.health.on_card.refresh_after_summary``)."""
    from app.services.health.on_card import refresh_after_summary

    def for_session(session: Session) -> Callable[[int], object]:
        return refresh_after_summary(card_desk_for(app, session, actor))

    return for_session
