"""Signing keys at rest: generation, rotation, revocation, and the rings built from them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

import cards
from app.clock import now as utc_now
from app.models import Card, CardStatus, KeyStatus, Publication, SigningKeyRecord
from app.services import audit
from app.services.errors import Conflict, NotFound

CARD, ROOT = "card", "root"
ROOT_ISSUER = "VN-VGCL-ROOT"

_cache: dict[str, cards.SigningKey] = {}  # kid -> decrypted key (PEM decryption is slow)
_cache_lock = threading.Lock()


def bump_publication(session: Session) -> None:
    """Raise the key part of the trust-bundle version (a key was added or changed status)."""
    session.execute(update(Publication).where(Publication.id == 1).values(
        version=Publication.version + 1, changed_at=utc_now()))


def publication_version(session: Session) -> int:
    """The current trust-bundle version: key changes plus every status list's version. Each
    part only grows, so the sum rises with every change without one hot counter row."""
    from app.models import StatusListRecord

    keys = session.scalar(select(Publication.version).where(Publication.id == 1)) or 1
    lists = session.scalar(select(func.coalesce(func.sum(StatusListRecord.version), 0))) or 0
    return int(keys) + int(lists)


class KeyStore:
    """The service's keys, stored as encrypted PKCS#8 PEM (passphrase from configuration)."""

    def __init__(self, session: Session, passphrase: str, *, actor: str = "system",
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.session = session
        self.passphrase = passphrase
        self.actor = actor
        self.clock = clock

    # -- lifecycle ------------------------------------------------------------------------
    def _create(self, issuer: str, purpose: str) -> SigningKeyRecord:
        now = self.clock()
        key = cards.generate_signing_key(issuer, now=now)
        record = SigningKeyRecord(kid=key.kid, issuer=issuer, purpose=purpose,
                                  status=KeyStatus.ACTIVE, public_jwk=key.public_jwk(),
                                  private_pem=key.to_pem(self.passphrase), created_at=now,
                                  revoked_reason="")
        self.session.add(record)
        self.session.flush()
        with _cache_lock:
            _cache[key.kid] = key
        if purpose == CARD:  # the root key is pinned by scanners, not published in the bundle
            bump_publication(self.session)
        audit.record(self.session, actor=self.actor, action=f"key.{purpose}.generate",
                     object_type="key", object_id=key.kid, details={"issuer": issuer})
        return record

    def active(self, issuer: str, purpose: str = CARD) -> SigningKeyRecord | None:
        """The active key of an issuer (or the root key)."""
        return self.session.scalar(select(SigningKeyRecord).where(
            SigningKeyRecord.issuer == issuer, SigningKeyRecord.purpose == purpose,
            SigningKeyRecord.status == KeyStatus.ACTIVE).order_by(
                SigningKeyRecord.created_at.desc(), SigningKeyRecord.id.desc()))

    def generate(self, issuer: str, purpose: str = CARD) -> SigningKeyRecord:
        """Create the first key of an issuer (or the root key).

        Raises:
            Conflict: an active key exists already (rotate it instead).
        """
        if self.active(issuer, purpose) is not None:
            raise Conflict(f"{issuer} already has an active {purpose} key; rotate it instead.")
        return self._create(issuer, purpose)

    def ensure(self, issuer: str, purpose: str = CARD) -> SigningKeyRecord:
        """The active key of an issuer, generated on first use (when two requests race to
        create it, the unique index keeps one and the other uses it)."""
        existing = self.active(issuer, purpose)
        if existing is not None:
            return existing
        try:
            with self.session.begin_nested():
                return self._create(issuer, purpose)
        except IntegrityError:
            winner = self.active(issuer, purpose)
            if winner is None:
                raise
            return winner

    def rotate(self, issuer: str, purpose: str = CARD) -> tuple[SigningKeyRecord,
                                                                SigningKeyRecord | None]:
        """Make a new active key; the old one is retired but stays published while its
        cards are valid. Returns (new, retired)."""
        old = self.active(issuer, purpose)
        if old is not None:
            old.status = KeyStatus.RETIRED
            old.retired_at = self.clock()
            self.session.flush()  # one active key per issuer: retire before the new insert
            audit.record(self.session, actor=self.actor, action=f"key.{purpose}.retire",
                         object_type="key", object_id=old.kid, details={"issuer": issuer})
        return self._create(issuer, purpose), old

    def revoke(self, kid: str, reason: str) -> tuple[SigningKeyRecord, int]:
        """Distrust a compromised key: every card it signed is revoked (``key-compromise``).

        Returns the key and the number of cards revoked.

        Raises:
            NotFound: no such key. Conflict: already revoked.
        """
        record = self.get(kid)
        kid = record.kid
        if record.status is KeyStatus.REVOKED:
            raise Conflict("The key is already revoked.")
        record.status = KeyStatus.REVOKED
        record.revoked_at = self.clock()
        record.revoked_reason = reason
        with _cache_lock:
            _cache.pop(kid, None)
        affected = self.session.scalars(select(Card).where(
            Card.kid == kid, Card.status != CardStatus.REVOKED).order_by(Card.id)
            .with_for_update()).all()
        from app.services.issuing.card_status import CardLifecycle

        lifecycle = CardLifecycle(self.session, actor=self.actor, clock=self.clock)
        for card in affected:
            lifecycle.revoke(card, "key-compromise")
        bump_publication(self.session)
        audit.record(self.session, actor=self.actor, action=f"key.{record.purpose}.revoke",
                     object_type="key", object_id=kid, reason=reason,
                     details={"issuer": record.issuer, "cards_revoked": len(affected)})
        return record, len(affected)

    def get(self, kid: str) -> SigningKeyRecord:
        """A key by full or unambiguous prefix of its id.

        Raises:
            NotFound: no key matches.
        """
        matches = self.session.scalars(select(SigningKeyRecord).where(
            SigningKeyRecord.kid.startswith(kid, autoescape=True))).all()
        if len(matches) != 1:
            raise NotFound(f"No single key matches {kid!r}.")
        return matches[0]

    def all_keys(self) -> list[SigningKeyRecord]:
        """Every key, newest first."""
        return list(self.session.scalars(select(SigningKeyRecord).order_by(
            SigningKeyRecord.created_at.desc(), SigningKeyRecord.id.desc())))

    # -- use ------------------------------------------------------------------------------
    def signing_key(self, record: SigningKeyRecord) -> cards.SigningKey:
        """The decrypted private key of a record (cached per process)."""
        with _cache_lock:
            cached = _cache.get(record.kid)
        if cached is not None:
            return cached
        key = cards.load_signing_key(record.private_pem, self.passphrase, issuer=record.issuer,
                                     created_at=int(record.created_at.timestamp()))
        with _cache_lock:
            _cache[record.kid] = key
        return key

    def root_key(self) -> cards.SigningKey:
        """The trust-bundle root key (generated on first use)."""
        return self.signing_key(self.ensure(ROOT_ISSUER, ROOT))

    def last_expiry(self, kid: str) -> datetime | None:
        """When the last card signed by ``kid`` expires."""
        return self.session.scalar(select(func.max(Card.expires_at)).where(Card.kid == kid))

    def published(self) -> list[SigningKeyRecord]:
        """Card keys a verifier needs: active ones, and retired or revoked ones whose cards
        have not all expired."""
        now = self.clock()
        out = []
        for record in self.session.scalars(select(SigningKeyRecord).where(
                SigningKeyRecord.purpose == CARD).order_by(SigningKeyRecord.id)):
            if record.status is KeyStatus.ACTIVE:
                out.append(record)
                continue
            last = self.last_expiry(record.kid)
            if last is not None and last > now:
                out.append(record)
        return out

    def verification_keys(self) -> list[cards.VerificationKey]:
        """The published keys with their status, for a ring or a trust bundle."""
        return [cards.VerificationKey(cards.keys.public_key_from_jwk(r.public_jwk), r.issuer,
                                      r.status.value) for r in self.published()]
