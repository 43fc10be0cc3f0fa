"""Bridges from the Flask app to plain services: cipher, keys, card desk, acting principal."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app
from sqlalchemy.orm import Session

from app.crypto import DataCipher
from app.security import current_principal

if TYPE_CHECKING:
    from app.services.batches import BatchSettings
    from app.services.imports import ImportSettings
    from app.services.issuance import CardDesk, CardSettings
    from app.services.jobs import Launch
    from app.services.keys import KeyStore
    from app.services.publication import Publisher


def data_cipher() -> DataCipher:
    """The app's cipher for data at rest (newest key first, then ``DATA_KEYS_PREVIOUS``)."""
    cipher = current_app.extensions.get("unioncard.cipher")
    if cipher is None:
        cipher = cipher_for_config(current_app.config)
        current_app.extensions["unioncard.cipher"] = cipher
    return cipher


def cipher_for_config(config: object) -> DataCipher:
    """Build a cipher from a config mapping (also used by the CLI and jobs)."""
    from app.config import decode_data_key

    get = config.get  # type: ignore[attr-defined]
    keys = [get("DATA_KEY_BYTES")]
    previous = get("DATA_KEYS_PREVIOUS") or ""
    keys += [decode_data_key(k.strip()) for k in str(previous).split(",") if k.strip()]
    return DataCipher(keys)


def actor() -> str:
    """The audit name of the caller (``user:7``)."""
    principal = current_principal()
    assert principal is not None
    return principal.subject


def card_settings(config: object) -> CardSettings:
    """Card issuing settings from a config mapping."""
    from app.services.issuance import CardSettings

    get = config.get  # type: ignore[attr-defined]
    return CardSettings(issuer=str(get("CARD_ISSUER")), issuer_name=str(get("CARD_ISSUER_NAME")),
                        validity_days=int(get("CARD_VALIDITY_DAYS")),
                        public_base_url=str(get("PUBLIC_BASE_URL")))


def key_store(session: Session, config: object, actor: str) -> KeyStore:
    """The key store for a session, with the key passphrase from a config mapping."""
    from app.services.keys import KeyStore

    return KeyStore(session, str(config.get("KEY_PASSPHRASE")), actor=actor)  # type: ignore[attr-defined]


def card_desk_for(app: Flask, session: Session, actor: str) -> CardDesk:
    """A card desk outside a request (CLI, jobs)."""
    from app.services.issuance import CardDesk

    return CardDesk(session, cipher_for_config(app.config), key_store(session, app.config, actor),
                    card_settings(app.config), actor=actor)


def card_desk() -> CardDesk:
    """The card desk acting for the caller of this request."""
    from app.extensions import db

    return card_desk_for(current_app._get_current_object(),  # type: ignore[attr-defined]
                         db.session, actor())


def publisher_for(app: Flask, session: Session) -> Publisher:
    """The publisher of JWKS, status lists and trust bundle."""
    from app.services.publication import Publisher

    return Publisher(session, key_store(session, app.config, "system"),
                     base_url=str(app.config["PUBLIC_BASE_URL"]))


def ensure_root_key(app: Flask) -> None:
    """Make sure the trust-bundle root key exists, creating it in its own short write
    transaction, so the public GET endpoints that need it never write in their own."""
    from app.extensions import db
    from app.services.keys import ROOT, ROOT_ISSUER

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
    from app.services.imports import ImportSettings, limits_from, upload_dir

    return ImportSettings(limits=limits_from(config),
                          batch_size=int(config["IMPORT_BATCH_SIZE"]),
                          directory=upload_dir(config))


def batch_settings(config: Mapping[str, Any]) -> BatchSettings:
    """Card batch settings from a config mapping."""
    from app.services.batches import BatchSettings, batch_root

    return BatchSettings(root=batch_root(config), batch_size=int(config["CARD_BATCH_SIZE"]),
                         sheet_cards=int(config["CARD_BATCH_SHEET_CARDS"]),
                         workers=int(config["CARD_BATCH_WORKERS"]))


def job_launcher(app: Flask) -> Launch:
    """How the app runs a job: in a background thread with a session of its own, or at once
    (``JOBS_SYNC``, for tests); a failure is logged and recorded on the job."""
    from app.extensions import db
    from app.services import jobs

    def sessions() -> Session:
        return db.new_session(app)

    return functools.partial(jobs.run_logged if app.config["JOBS_SYNC"] else jobs.run_in_thread,
                             sessions)
