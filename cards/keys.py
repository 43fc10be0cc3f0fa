"""ES256 signing keys, their JWK form and RFC 7638 key ids, and the key ring."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal, get_args

from cryptography.exceptions import UnsupportedAlgorithm as _CryptoUnsupported
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cards.b64 import b64url_decode, b64url_encode
from cards.errors import SigningKeyError
from cards.timeutil import Instant, epoch_seconds

KeyStatus = Literal["active", "retired", "revoked"]
KEY_STATUSES: tuple[str, ...] = get_args(KeyStatus)
#: Length in bytes of the short key id carried in the COSE protected header.
SHORT_KID_BYTES = 8
_COORD_BYTES = 32
#: The members of a published key, in a trust bundle and in the JWKS (docs/uc1.md §4).
PUBLISHED_JWK_MEMBERS = frozenset(
    {"kty", "crv", "x", "y", "kid", "use", "alg", "iss", "status"})


def _coordinates(public_key: ec.EllipticCurvePublicKey) -> tuple[bytes, bytes]:
    numbers = public_key.public_numbers()
    return numbers.x.to_bytes(_COORD_BYTES, "big"), numbers.y.to_bytes(_COORD_BYTES, "big")


def _require_p256(key: ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) -> None:
    if not isinstance(key.curve, ec.SECP256R1):
        raise SigningKeyError("only P-256 (ES256) keys are supported", reason="wrong-curve")


def thumbprint_digest(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """Return the SHA-256 RFC 7638 JWK thumbprint of a P-256 public key (32 bytes)."""
    x, y = _coordinates(public_key)
    canonical = json.dumps(
        {"crv": "P-256", "kty": "EC", "x": b64url_encode(x), "y": b64url_encode(y)},
        separators=(",", ":"),
        sort_keys=True,
    )
    return hashlib.sha256(canonical.encode("ascii")).digest()


def jwk_thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """Return the full key id: the base64url RFC 7638 thumbprint (43 characters)."""
    return b64url_encode(thumbprint_digest(public_key))


def short_kid(public_key: ec.EllipticCurvePublicKey) -> bytes:
    """Return the short key id: the first 8 bytes of the RFC 7638 thumbprint."""
    return thumbprint_digest(public_key)[:SHORT_KID_BYTES]


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """Export a P-256 public key as a JWK with ``kid``, ``use: sig`` and ``alg: ES256``."""
    _require_p256(public_key)
    x, y = _coordinates(public_key)
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url_encode(x),
        "y": b64url_encode(y),
        "kid": jwk_thumbprint(public_key),
        "use": "sig",
        "alg": "ES256",
    }


def public_key_from_jwk(jwk: Mapping[str, Any]) -> ec.EllipticCurvePublicKey:
    """Import a P-256 public JWK, checking ``alg``, ``use`` and ``kid`` when present.

    Raises:
        SigningKeyError: (``bad-jwk``) for anything but a valid ES256 public key whose
            ``kid``, if given, is its RFC 7638 thumbprint.
    """
    if not isinstance(jwk, Mapping):
        raise SigningKeyError("JWK must be an object", reason="bad-jwk")
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise SigningKeyError("JWK must be an EC P-256 key", reason="bad-jwk")
    if "d" in jwk:
        raise SigningKeyError("JWK contains private key material", reason="bad-jwk")
    if jwk.get("alg", "ES256") != "ES256" or jwk.get("use", "sig") != "sig":
        raise SigningKeyError("JWK is not an ES256 signing key", reason="bad-jwk")
    try:
        x = b64url_decode(jwk["x"])
        y = b64url_decode(jwk["y"])
        if len(x) != _COORD_BYTES or len(y) != _COORD_BYTES:
            raise ValueError("coordinate length")
        key = ec.EllipticCurvePublicNumbers(
            int.from_bytes(x, "big"), int.from_bytes(y, "big"), ec.SECP256R1()
        ).public_key()
    except (KeyError, ValueError, TypeError) as e:
        raise SigningKeyError("JWK coordinates are not a P-256 point", reason="bad-jwk") from e
    if "kid" in jwk and jwk["kid"] != jwk_thumbprint(key):
        raise SigningKeyError("JWK kid is not the key's RFC 7638 thumbprint", reason="bad-jwk")
    return key


@dataclass(frozen=True)
class SigningKey:
    """An issuer's ES256 private key with its ids and validity metadata (epoch seconds)."""

    private_key: ec.EllipticCurvePrivateKey
    issuer: str
    created_at: int
    not_after: int | None = None
    kid: str = field(init=False)
    short_kid: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.private_key, ec.EllipticCurvePrivateKey):
            raise SigningKeyError("signing key must be an EC private key", reason="bad-key")
        _require_p256(self.private_key)
        digest = thumbprint_digest(self.private_key.public_key())
        object.__setattr__(self, "kid", b64url_encode(digest))
        object.__setattr__(self, "short_kid", digest[:SHORT_KID_BYTES])

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        """The matching public key."""
        return self.private_key.public_key()

    def is_usable(self, now: Instant) -> bool:
        """Whether the key may sign at ``now`` (created and not past ``not_after``)."""
        t = epoch_seconds(now)
        return self.created_at <= t and (self.not_after is None or t < self.not_after)

    def public_jwk(self) -> dict[str, str]:
        """The public half as a JWK (see :func:`public_jwk`)."""
        return public_jwk(self.public_key)

    def verification_key(self, status: KeyStatus = "active") -> VerificationKey:
        """The public half as a :class:`VerificationKey` for a ring or a trust bundle."""
        return VerificationKey(self.public_key, self.issuer, status)

    def to_pem(self, passphrase: bytes | str) -> bytes:
        """Serialise the private key as encrypted PKCS#8 PEM.

        Raises:
            SigningKeyError: (``no-passphrase``) for an empty passphrase.
        """
        secret = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
        if not secret:
            raise SigningKeyError("a passphrase is required", reason="no-passphrase")
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(secret),
        )


def generate_signing_key(
    issuer: str, *, now: Instant, valid_for_seconds: int | None = None
) -> SigningKey:
    """Generate a fresh ES256 (P-256) signing key for ``issuer``, created at ``now``."""
    created = epoch_seconds(now)
    not_after = None if valid_for_seconds is None else created + valid_for_seconds
    return SigningKey(ec.generate_private_key(ec.SECP256R1()), issuer, created, not_after)


def load_signing_key(
    pem: bytes | str,
    passphrase: bytes | str | None,
    *,
    issuer: str,
    created_at: int,
    not_after: int | None = None,
) -> SigningKey:
    """Load a PKCS#8 PEM private key (encrypted with ``passphrase``) as a :class:`SigningKey`.

    Raises:
        SigningKeyError: ``bad-passphrase`` for a wrong or missing passphrase, ``bad-key`` for
            a PEM that is not a P-256 private key, ``wrong-curve`` for another curve.
    """
    data = pem.encode("ascii") if isinstance(pem, str) else pem
    secret = passphrase.encode("utf-8") if isinstance(passphrase, str) else passphrase
    try:
        key = serialization.load_pem_private_key(data, password=secret or None)
    except TypeError as e:  # encrypted without a passphrase, or a passphrase for a plain key
        raise SigningKeyError("passphrase does not fit the key file", reason="bad-passphrase") from e
    except ValueError as e:
        reason = "bad-passphrase" if b"ENCRYPTED" in data else "bad-key"
        raise SigningKeyError("cannot load the private key", reason=reason) from e
    except _CryptoUnsupported as e:
        raise SigningKeyError("unsupported private key", reason="bad-key") from e
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise SigningKeyError("not an EC private key", reason="bad-key")
    return SigningKey(key, issuer, created_at, not_after)


@dataclass(frozen=True)
class VerificationKey:
    """A published public key: its ids, issuer and status (active, retired or revoked)."""

    public_key: ec.EllipticCurvePublicKey
    issuer: str
    status: KeyStatus = "active"
    kid: str = field(init=False)
    short_kid: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.public_key, ec.EllipticCurvePublicKey):
            raise SigningKeyError("verification key must be an EC public key", reason="bad-key")
        _require_p256(self.public_key)
        if self.status not in KEY_STATUSES:
            raise SigningKeyError(f"unknown key status {self.status!r}", reason="bad-jwk")
        if not isinstance(self.issuer, str) or not self.issuer:
            raise SigningKeyError("key issuer must be a non-empty string", reason="bad-jwk")
        digest = thumbprint_digest(self.public_key)
        object.__setattr__(self, "kid", b64url_encode(digest))
        object.__setattr__(self, "short_kid", digest[:SHORT_KID_BYTES])

    @property
    def revoked(self) -> bool:
        """Whether the key was revoked (compromised): every card it signed fails."""
        return self.status == "revoked"

    def to_jwk(self) -> dict[str, str]:
        """The JWK with the bundle's extra members ``iss`` and ``status``."""
        return {**public_jwk(self.public_key), "iss": self.issuer, "status": self.status}

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, Any], *, strict: bool = False) -> VerificationKey:
        """Read a JWK carrying ``iss`` and ``status`` (default ``active``).

        ``strict`` (trust bundles and the JWKS, docs/uc1.md §4–5) requires exactly the
        published members, every one of them: no default status, no unknown member.

        Raises:
            SigningKeyError: (``bad-jwk``) for a malformed key or metadata.
        """
        if strict and (not isinstance(jwk, Mapping) or set(jwk) != PUBLISHED_JWK_MEMBERS):
            raise SigningKeyError("a published key has exactly the members "
                                  f"{sorted(PUBLISHED_JWK_MEMBERS)}", reason="bad-jwk")
        key = public_key_from_jwk(jwk)
        issuer = jwk.get("iss")
        status = jwk.get("status", "active")
        if not isinstance(issuer, str) or status not in KEY_STATUSES:
            raise SigningKeyError("JWK lacks a valid iss or status", reason="bad-jwk")
        return cls(key, issuer, status)


class KeyRing:
    """Signing keys and published verification keys, indexed by short kid for verification.

    Also a trust source for :func:`cards.verify` (the service's online checks); it carries
    no status lists unless given some, so status checking is then left to the caller.
    """

    def __init__(
        self,
        keys: Iterable[VerificationKey | SigningKey] = (),
        *,
        status_lists: Mapping[tuple[int, str], Any] | None = None,
    ) -> None:
        self._keys: dict[str, VerificationKey] = {}
        self._by_short: dict[bytes, list[VerificationKey]] = {}
        self._signing: dict[str, SigningKey] = {}
        self._status_lists = dict(status_lists or {})
        for key in keys:
            self.add(key)

    def add(self, key: VerificationKey | SigningKey) -> VerificationKey:
        """Publish a key (a signing key also becomes usable for signing); return its entry."""
        if isinstance(key, SigningKey):
            self._signing[key.kid] = key
            entry = self._keys.get(key.kid) or key.verification_key()
        else:
            entry = key
        self._put(entry)
        return entry

    def _put(self, entry: VerificationKey) -> None:
        self._keys[entry.kid] = entry
        bucket = [k for k in self._by_short.get(entry.short_kid, []) if k.kid != entry.kid]
        bucket.append(entry)
        self._by_short[entry.short_kid] = bucket

    def set_status(self, kid: str, status: KeyStatus) -> VerificationKey:
        """Mark the key ``kid`` active, retired or revoked; return the new entry.

        Raises:
            KeyError: when the ring has no key ``kid``.
        """
        entry = replace(self._keys[kid], status=status)
        self._put(entry)
        if status == "revoked":
            self._signing.pop(kid, None)
        return entry

    def retire(self, kid: str) -> VerificationKey:
        """Stop signing with ``kid`` but keep verifying the cards it signed."""
        return self.set_status(kid, "retired")

    def revoke(self, kid: str) -> VerificationKey:
        """Revoke ``kid`` after a compromise: every card it signed verifies as ``revoked``."""
        return self.set_status(kid, "revoked")

    def get(self, kid: str) -> VerificationKey | None:
        """The key with full id ``kid``, if published."""
        return self._keys.get(kid)

    def keys_for(self, short: bytes) -> tuple[VerificationKey, ...]:
        """Every published key whose short kid equals ``short`` (usually zero or one)."""
        return tuple(self._by_short.get(short, ()))

    def signing_key(self, issuer: str, *, now: Instant) -> SigningKey:
        """The newest active, currently usable signing key of ``issuer``.

        Raises:
            SigningKeyError: (``no-active-key``) when there is none.
        """
        usable = [
            k
            for k in self._signing.values()
            if k.issuer == issuer and self._keys[k.kid].status == "active" and k.is_usable(now)
        ]
        if not usable:
            raise SigningKeyError(f"no active signing key for {issuer}", reason="no-active-key")
        return max(usable, key=lambda k: (k.created_at, k.kid))

    def status_list(self, list_id: int, purpose: str) -> Any:
        """The status list ``(list_id, purpose)`` given to the ring, if any."""
        return self._status_lists.get((list_id, purpose))

    def warnings(self, now: Instant) -> tuple[str, ...]:
        """A live ring never warns (it is the service's current state)."""
        return ()

    def to_jwks(self) -> dict[str, list[dict[str, str]]]:
        """The published keys as a JWKS (with ``iss`` and ``status`` members)."""
        return {"keys": [k.to_jwk() for k in self._keys.values()]}

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any]) -> KeyRing:
        """Build a verify-only ring from a JWKS as produced by :meth:`to_jwks` (every key
        with exactly the published members, ``iss`` and ``status`` included).

        Raises:
            SigningKeyError: (``bad-jwk``) for a malformed set or key.
        """
        keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
        if not isinstance(keys, list) or set(jwks) != {"keys"}:
            raise SigningKeyError("JWKS must be {\"keys\": [...]}", reason="bad-jwk")
        return cls(VerificationKey.from_jwk(k, strict=True) for k in keys)

    def __iter__(self) -> Iterator[VerificationKey]:
        return iter(self._keys.values())

    def __len__(self) -> int:
        return len(self._keys)
