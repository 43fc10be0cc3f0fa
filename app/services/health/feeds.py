"""Health-record feed clients: administrators create, list, rotate and disable them; the token
endpoint authenticates them (OAuth 2 client credentials, RFC 6749 §4.4)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import now as utc_now
from app.crypto import DataCipher
from app.models import HealthFeed, Province
from app.services import audit
from app.services.access import client_secrets
from app.services.access.client_secrets import secret_matches
from app.services.access.tokens import Principal
from app.services.errors import InvalidClient, NotFound, ValidationFailed

SECRET_CONTEXT = "health_feed.secret"
#: The role a feed's token carries.
FEED_ROLE = "health-feed"


@dataclass(frozen=True)
class Credentials:
    """A feed client and its secret as shown once, at creation or rotation."""

    feed: HealthFeed
    client_secret: str


def secret_hash(cipher: DataCipher, secret: str) -> str:
    """The keyed hash a feed's secret is kept as."""
    return client_secrets.secret_hash(cipher, SECRET_CONTEXT, secret)


def principal(feed: HealthFeed) -> Principal:
    """The token subject of a feed client (``feed:<id>``)."""
    return Principal(kind="feed", id=feed.id, role=FEED_ROLE, token_version=feed.token_version)


class FeedClients:
    """Feed clients for one actor, with a session, a cipher and a clock."""

    def __init__(self, session: Session, cipher: DataCipher, *, actor: str,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.session = session
        self.cipher = cipher
        self.actor = actor
        self.clock = clock

    def create(self, name: str, provinces: Iterable[str]) -> Credentials:
        """Create an active feed client serving ``provinces``; its secret is shown only here.

        Raises:
            ValidationFailed: an empty name, no province, or an unknown province code.
        """
        name = name.strip()
        if not name or len(name) > 200:
            raise ValidationFailed.field("name", "A feed's name is 1-200 characters.")
        codes = sorted({p.strip() for p in provinces})
        if not codes:
            raise ValidationFailed.field("provinces", "A feed serves at least one province.")
        known = set(self.session.scalars(select(Province.code).where(Province.code.in_(codes))))
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise ValidationFailed.field("provinces", f"Unknown province codes: {unknown}.")
        secret = secrets.token_urlsafe(32)
        feed = HealthFeed(client_id=f"feed-{secrets.token_hex(8)}", name=name, provinces=codes,
                          secret_hash=secret_hash(self.cipher, secret), active=True,
                          token_version=0, created_at=self.clock(), created_by=self.actor)
        self.session.add(feed)
        self.session.flush()
        self._audit(feed, "health-feed.create", {"provinces": codes})
        return Credentials(feed, secret)

    def list(self) -> list[HealthFeed]:
        """Every feed client, oldest first."""
        return list(self.session.scalars(select(HealthFeed).order_by(HealthFeed.id)))

    def get(self, feed_id: int) -> HealthFeed:
        """One feed client by id.

        Raises:
            NotFound: no such feed client.
        """
        feed = self.session.get(HealthFeed, feed_id)
        if feed is None:
            raise NotFound("No such feed client.")
        return feed

    def find(self, client_id: str) -> HealthFeed:
        """One feed client by its client id.

        Raises:
            NotFound: no such feed client.
        """
        feed = self.session.scalar(select(HealthFeed).where(HealthFeed.client_id == client_id))
        if feed is None:
            raise NotFound("No such feed client.")
        return feed

    def rotate_secret(self, feed: HealthFeed) -> Credentials:
        """Give the client a new secret (shown only here); the old one and every token issued
        with it stop working at once."""
        secret = secrets.token_urlsafe(32)
        feed.secret_hash = secret_hash(self.cipher, secret)
        feed.token_version += 1
        feed.rotated_at = self.clock()
        self.session.flush()
        self._audit(feed, "health-feed.rotate-secret")
        return Credentials(feed, secret)

    def disable(self, feed: HealthFeed) -> HealthFeed:
        """Disable the client: it gets no token and its tokens stop working at once."""
        if feed.active:
            feed.active = False
            feed.token_version += 1
            self.session.flush()
            self._audit(feed, "health-feed.disable")
        return feed

    def _audit(self, feed: HealthFeed, action: str,
               details: dict[str, object] | None = None) -> None:
        audit.record(self.session, actor=self.actor, action=action, object_type="health-feed",
                     object_id=feed.id, details={"client_id": feed.client_id, **(details or {})})


def authenticate(session: Session, cipher: DataCipher, client_id: str,
                 client_secret: str) -> HealthFeed:
    """The active feed client with this id and secret (the secret compared in constant time).

    Raises:
        InvalidClient: no such client, a wrong secret, or a disabled client.
    """
    feed = None
    if 0 < len(client_id) <= 64:
        feed = session.scalar(select(HealthFeed).where(HealthFeed.client_id == client_id))
    stored = feed.secret_hash if feed is not None else None
    if not secret_matches(cipher, SECRET_CONTEXT, stored, client_secret) or feed is None \
            or not feed.active:
        raise InvalidClient()
    return feed


def active_feed(session: Session, feed_id: int, token_version: int) -> HealthFeed | None:
    """The feed client a token names, if it is still active and the token not revoked."""
    feed = session.get(HealthFeed, feed_id)
    if feed is None or not feed.active or feed.token_version != token_version:
        return None
    return feed


def serves(feed: HealthFeed, province_code: str) -> bool:
    """Whether the feed serves members of this province."""
    return province_code in feed.provinces


def revoke_tokens(session: Session, feed_id: int) -> None:
    """End every token issued to a feed client so far (logout; its secret stays valid).

    Raises:
        NotFound: no such feed client.
    """
    feed = session.get(HealthFeed, feed_id)
    if feed is None:
        raise NotFound("No such feed client.")
    feed.token_version += 1
    session.flush()
