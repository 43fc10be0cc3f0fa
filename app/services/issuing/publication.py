"""What offline scanners need, published: JWKS, signed status lists, the signed trust bundle."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple

import jwt
from sqlalchemy.orm import Session

import cards
from app.clock import now as utc_now
from app.services.errors import NotFound
from app.services.issuing.keys import KeyStore, publication_version
from app.services.issuing.status_lists import StatusLists

#: How long a fetched status list may be used before a verifier refreshes it: the credential's
#: ``ttl`` and the ``Cache-Control: max-age`` it is served with (Bitstring Status List v1.0
#: §2.2: align the cache header with ``ttl``). Also the length of a signing window: every
#: request in one window gets the same credential (same ``validFrom``, same ETag), so a
#: conditional request never keeps a copy past the window it was signed in.
STATUS_LIST_TTL = timedelta(seconds=300)
#: A credential's validity period (``validFrom`` to ``validUntil``, the JWT's ``iat`` to
#: ``exp``): signed at the start of its window and cached for at most one ``ttl`` after the
#: window ends, it never expires while an HTTP cache still counts it fresh, and no copy is
#: accepted more than ten minutes after its window began (docs/uc1.md §6).
STATUS_LIST_VALIDITY = 2 * STATUS_LIST_TTL
#: How long one signed trust bundle is served before it is signed again with a new ``iat``
#: even when nothing changed: a desk that synced today never holds a bundle older than a day,
#: so the age it shows (and its ``stale-trust-bundle`` warning) counts from its last sync.
BUNDLE_REFRESH = timedelta(days=1)
W3C_CONTEXT = ["https://www.w3.org/ns/credentials/v2"]
#: JOSE ``typ`` of a credential secured as a JWT (VC-JOSE-COSE §3.1.1); served as
#: ``application/vc+jwt``.
VC_JWT_TYP = "vc+jwt"
_bundle_cache: dict[tuple[str, int], tuple[str, int]] = {}  # (root kid, version) -> (bundle, iat)
_bundle_lock = threading.Lock()


class SignedBundle(NamedTuple):
    """A signed trust bundle, its version and its ``iat`` (seconds)."""

    text: str
    version: int
    issued_at: int

    @property
    def etag(self) -> str:
        """A weak ETag value (unquoted): the version and the signing time."""
        return f"bundle-{self.version}-{self.issued_at}"


def window_start(moment: datetime) -> datetime:
    """The start of the status-list signing window (``STATUS_LIST_TTL`` long, counted from the
    epoch) that holds ``moment``."""
    step = int(STATUS_LIST_TTL.total_seconds())
    seconds = int(moment.timestamp())
    return datetime.fromtimestamp(seconds - seconds % step, tz=timezone.utc)


def etag_of(body: str | bytes) -> str:
    """A strong ETag value (unquoted) for a body."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    return hashlib.sha256(data).hexdigest()[:32]


class Publisher:
    """Builds the public documents from the stored keys and status lists."""

    def __init__(self, session: Session, keys: KeyStore, *, base_url: str,
                 clock: Callable[[], datetime] = utc_now) -> None:
        self.session = session
        self.keys = keys
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.lists = StatusLists(session)

    def jwks(self) -> dict[str, Any]:
        """Every published card key, as in the trust bundle: with ``iss`` and ``status``,
        retired and revoked keys included (docs/uc1.md §4: a JWKS-only verifier answers a
        card of a revoked key ``revoked``/``key-compromise``, as a bundle verifier does);
        then the key that signs the status-list credentials (docs/uc1.md §6)."""
        return {"keys": [k.to_jwk() for k in self.keys.verification_keys()]
                + [self.status_list_key_jwk()]}

    def status_list_key_jwk(self) -> dict[str, str]:
        """The public key that signs the status-list credentials, as the JWKS lists it for
        generic VC-JOSE-COSE verifiers (the JWT's ``kid`` names it): the root key, with the
        same nine members as a card key (docs/uc1.md §4) and as ``iss`` the credentials'
        issuer, the public URL. A card's issuer is never a URL (§3), so a UC1 verifier that
        takes its keys from the JWKS refuses any card this key signed (``issuer-mismatch``):
        being listed beside the card keys does not let it sign cards.

        Raises:
            ValueError: the public URL could be read as a card issuer (never, for the
                http(s) URL the configuration requires; checked so it fails closed).
        """
        if "://" not in self.base_url:
            raise ValueError("the status lists' issuer must be the service's public URL")
        return cards.VerificationKey(self.keys.root_key().public_key, self.base_url,
                                     "active").to_jwk()

    def root_jwk(self) -> dict[str, str]:
        """The public root key that scanners pin to check trust bundles and status lists."""
        return self.keys.root_key().public_jwk()

    def status_list_url(self, list_id: int, purpose: str) -> str:
        """The public URL of a status list (the credential's ``id``)."""
        return f"{self.base_url}/api/v1/status-lists/{list_id}?purpose={purpose}"

    def status_list_credential(self, list_id: int, purpose: str) -> tuple[dict[str, Any], int]:
        """A status list as a W3C BitstringStatusListCredential (Bitstring Status List v1.0,
        VC Data Model 2.0), with the list's version (for ETags). Valid from the start of the
        current signing window for ``STATUS_LIST_VALIDITY``; ``ttl`` is ``STATUS_LIST_TTL``.

        Raises:
            NotFound: no such list.
        """
        record = self.lists.record(list_id, purpose)
        if record is None:
            raise NotFound(f"No status list {list_id} for {purpose}.")
        bits = cards.StatusList.from_bytes(list_id, purpose, record.bits)  # type: ignore[arg-type]
        start = window_start(self.clock())
        url = self.status_list_url(list_id, purpose)
        credential = {
            "@context": W3C_CONTEXT,
            "id": url,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": self.base_url,
            "validFrom": _xsd_datetime(start),
            "validUntil": _xsd_datetime(start + STATUS_LIST_VALIDITY),
            "credentialSubject": {"id": f"{url}#list", "type": "BitstringStatusList",
                                  "statusPurpose": purpose, "encodedList": bits.encode(),
                                  "ttl": int(STATUS_LIST_TTL.total_seconds() * 1000)},
        }
        return credential, record.version

    def status_list_jwt(self, list_id: int, purpose: str) -> tuple[str, str]:
        """The status-list credential secured as W3C VC-JOSE-COSE §3.1 (``vc+jwt``): the JWT
        payload IS the credential (no ``vc`` claim), signed ES256 by the root key, whose
        ``kid`` the JWKS lists (:meth:`status_list_key_jwk`); ``iss``, ``iat`` and ``exp``
        repeat ``issuer``, ``validFrom`` and ``validUntil`` so that plain JWT libraries check
        them too. With its (weak) ETag: the list's version and the signing window, so a
        revalidation after the window brings a newly signed copy, never an expired one.

        Raises:
            NotFound: no such list.
        """
        credential, version = self.status_list_credential(list_id, purpose)
        valid_from = datetime.fromisoformat(credential["validFrom"].replace("Z", "+00:00"))
        iat = int(valid_from.timestamp())
        claims = {**credential, "iss": credential["issuer"], "iat": iat,
                  "exp": int((valid_from + STATUS_LIST_VALIDITY).timestamp())}
        root = self.keys.root_key()
        token = jwt.encode(claims, root.private_key, algorithm="ES256",
                           headers={"kid": root.kid, "typ": VC_JWT_TYP, "cty": "vc"})
        return token, f"sl-{list_id}-{purpose}-{version}-{iat}"

    def trust_bundle(self) -> tuple[str, int]:
        """The signed trust bundle (keys with status, every status list, version counter)
        with its version (see :meth:`signed_trust_bundle`)."""
        signed = self.signed_trust_bundle()
        return signed.text, signed.version

    def signed_trust_bundle(self) -> SignedBundle:
        """The signed trust bundle, built once per version and process, and again once it
        is ``BUNDLE_REFRESH`` old, so its ``iat`` (from which desks count its age) stays
        recent while nothing changes; its ETag names the version and the ``iat``, so a desk
        that revalidates a day-old copy gets the newly signed one."""
        root = self.keys.root_key()
        version = publication_version(self.session)
        now = self.clock()
        with _bundle_lock:
            cached = _bundle_cache.get((root.kid, version))
        if cached is not None and now.timestamp() - cached[1] < BUNDLE_REFRESH.total_seconds():
            return SignedBundle(cached[0], version, cached[1])
        text = cards.build_bundle(keys=self.keys.verification_keys(),
                                  status_lists=self.lists.all(), version=version,
                                  now=now, root_key=root)
        iat = int(now.timestamp())
        with _bundle_lock:
            _bundle_cache.clear()
            _bundle_cache[(root.kid, version)] = (text, iat)
        return SignedBundle(text, version, iat)

    def live_trust(self) -> cards.KeyRing:
        """The current state as a trust source for online verification."""
        lists: dict[tuple[int, str], cards.StatusList] = {
            (sl.list_id, sl.purpose): sl for sl in self.lists.all()}
        return cards.KeyRing(self.keys.verification_keys(), status_lists=lists)


def _xsd_datetime(moment: datetime) -> str:
    """An aware time as an XML Schema dateTimeStamp in UTC, e.g. ``2025-11-01T08:00:00Z``."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys (stable bodies give stable ETags)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
