"""What offline scanners need, published: JWKS, signed status lists, the signed trust bundle."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
from sqlalchemy.orm import Session

import cards
from app.clock import now as utc_now
from app.services.errors import NotFound
from app.services.issuing.keys import KeyStore, publication_version
from app.services.issuing.status_lists import StatusLists

STATUS_LIST_TTL = timedelta(days=1)
W3C_CONTEXT = ["https://www.w3.org/ns/credentials/v2"]
#: JOSE ``typ`` of a credential secured as a JWT (VC-JOSE-COSE §3.1.1); served as
#: ``application/vc+jwt``.
VC_JWT_TYP = "vc+jwt"
_bundle_cache: dict[tuple[str, int], str] = {}  # (root kid, version) -> signed bundle
_bundle_lock = threading.Lock()


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
        card of a revoked key ``revoked``/``key-compromise``, as a bundle verifier does)."""
        return {"keys": [k.to_jwk() for k in self.keys.verification_keys()]}

    def root_jwk(self) -> dict[str, str]:
        """The public root key that scanners pin to check trust bundles and status lists."""
        return self.keys.root_key().public_jwk()

    def status_list_url(self, list_id: int, purpose: str) -> str:
        """The public URL of a status list (the credential's ``id``)."""
        return f"{self.base_url}/api/v1/status-lists/{list_id}?purpose={purpose}"

    def status_list_credential(self, list_id: int, purpose: str) -> tuple[dict[str, Any], int]:
        """A status list as a W3C BitstringStatusListCredential (Bitstring Status List v1.0,
        VC Data Model 2.0), with the list's version (for ETags).

        Raises:
            NotFound: no such list.
        """
        record = self.lists.record(list_id, purpose)
        if record is None:
            raise NotFound(f"No status list {list_id} for {purpose}.")
        bits = cards.StatusList.from_bytes(list_id, purpose, record.bits)  # type: ignore[arg-type]
        now = self.clock().replace(microsecond=0)
        url = self.status_list_url(list_id, purpose)
        credential = {
            "@context": W3C_CONTEXT,
            "id": url,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": self.base_url,
            "validFrom": _xsd_datetime(now),
            "validUntil": _xsd_datetime(now + STATUS_LIST_TTL),
            "credentialSubject": {"id": f"{url}#list", "type": "BitstringStatusList",
                                  "statusPurpose": purpose, "encodedList": bits.encode(),
                                  "ttl": int(STATUS_LIST_TTL.total_seconds() * 1000)},
        }
        return credential, record.version

    def status_list_jwt(self, list_id: int, purpose: str) -> tuple[str, int]:
        """The status-list credential secured as W3C VC-JOSE-COSE §3.1 (``vc+jwt``): the JWT
        payload IS the credential (no ``vc`` claim), signed ES256 by the root key; ``iss``,
        ``iat`` and ``exp`` repeat ``issuer``, ``validFrom`` and ``validUntil`` so that plain
        JWT libraries check them too. With the list's version (for ETags).

        Raises:
            NotFound: no such list.
        """
        credential, version = self.status_list_credential(list_id, purpose)
        valid_from = datetime.fromisoformat(credential["validFrom"].replace("Z", "+00:00"))
        claims = {**credential, "iss": credential["issuer"],
                  "iat": int(valid_from.timestamp()),
                  "exp": int((valid_from + STATUS_LIST_TTL).timestamp())}
        root = self.keys.root_key()
        token = jwt.encode(claims, root.private_key, algorithm="ES256",
                           headers={"kid": root.kid, "typ": VC_JWT_TYP, "cty": "vc"})
        return token, version

    def trust_bundle(self) -> tuple[str, int]:
        """The signed trust bundle (keys with status, every status list, version counter);
        built once per version and process."""
        root = self.keys.root_key()
        version = publication_version(self.session)
        with _bundle_lock:
            cached = _bundle_cache.get((root.kid, version))
        if cached is not None:
            return cached, version
        text = cards.build_bundle(keys=self.keys.verification_keys(),
                                  status_lists=self.lists.all(), version=version,
                                  now=self.clock(), root_key=root)
        with _bundle_lock:
            _bundle_cache.clear()
            _bundle_cache[(root.kid, version)] = text
        return text, version

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
