"""The signed trust bundle offline scanners cache: keys, status lists and a version counter."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from cards.errors import CardError, TrustError
from cards.keys import (
    KeyRing,
    SigningKey,
    VerificationKey,
    jwk_thumbprint,
    public_key_from_jwk,
)
from cards.status import PURPOSES, StatusList
from cards.timeutil import DEFAULT_SKEW, Instant, epoch_seconds

#: JWS ``typ`` header of a trust bundle.
BUNDLE_TYP = "unioncard-trust+jwt"
#: The bundle payload format this library reads and writes.
BUNDLE_FORMAT = 1
#: The only JWS algorithm accepted for bundles (pinned, never read from the token).
BUNDLE_ALG = "ES256"
#: A bundle older than this (seconds) still works but makes verification warn.
DEFAULT_MAX_AGE = 30 * 24 * 3600
#: The largest bundle text accepted (characters).
MAX_BUNDLE_CHARS = 8 * 1024 * 1024
STALE_WARNING = "stale-trust-bundle"


class Trust(Protocol):
    """What :func:`cards.verify` needs from a trust source (a bundle or a live key ring)."""

    def keys_for(self, short: bytes) -> Sequence[VerificationKey]:
        """Every trusted key whose short kid equals ``short``."""
        ...

    def status_list(self, list_id: int, purpose: str) -> StatusList | None:
        """The status list ``(list_id, purpose)``, or ``None`` when not carried."""
        ...

    def warnings(self, now: Instant) -> tuple[str, ...]:
        """Warnings that apply to every verification at ``now`` (e.g. a stale bundle)."""
        ...


@dataclass(frozen=True)
class TrustBundle:
    """A verified (or freshly built) trust bundle, indexed for fast verification."""

    version: int
    issued_at: int
    keys: tuple[VerificationKey, ...]
    status_lists: tuple[StatusList, ...] = ()
    max_age: int = DEFAULT_MAX_AGE
    _ring: KeyRing = field(init=False, repr=False, compare=False)
    _lists: dict[tuple[int, str], StatusList] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("version", "issued_at", "max_age"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise TrustError(f"bundle {name} must be a non-negative integer")
        lists: dict[tuple[int, str], StatusList] = {}
        for sl in self.status_lists:
            if (sl.list_id, sl.purpose) in lists:
                raise TrustError(f"duplicate status list {sl.list_id}/{sl.purpose}")
            lists[(sl.list_id, sl.purpose)] = sl
        kids = [k.kid for k in self.keys]
        if len(set(kids)) != len(kids):
            raise TrustError("duplicate key in bundle")
        object.__setattr__(self, "_ring", KeyRing(self.keys))
        object.__setattr__(self, "_lists", lists)

    def keys_for(self, short: bytes) -> tuple[VerificationKey, ...]:
        """Every key in the bundle whose short kid equals ``short``."""
        return self._ring.keys_for(short)

    def status_list(self, list_id: int, purpose: str) -> StatusList | None:
        """The bundle's status list ``(list_id, purpose)``, if present."""
        return self._lists.get((list_id, purpose))

    def is_stale(self, now: Instant) -> bool:
        """Whether the bundle is older than ``max_age`` at ``now``."""
        return epoch_seconds(now) - self.issued_at > self.max_age

    def warnings(self, now: Instant) -> tuple[str, ...]:
        """``('stale-trust-bundle',)`` when stale at ``now``, else nothing."""
        t = now if type(now) is int else epoch_seconds(now)  # scanners' hot path: an int
        return (STALE_WARNING,) if t - self.issued_at > self.max_age else ()

    def to_payload(self) -> dict[str, Any]:
        """The JSON payload that gets signed (see docs/uc1.md, "Trust bundle")."""
        return {
            "format": BUNDLE_FORMAT,
            "version": self.version,
            "iat": self.issued_at,
            "keys": [k.to_jwk() for k in self.keys],
            "statusLists": [
                {
                    "id": sl.list_id,
                    "purpose": sl.purpose,
                    "size": sl.size,
                    "encodedList": sl.encode(),
                }
                for sl in self.status_lists
            ],
        }

    @classmethod
    def from_payload(cls, payload: Any, *, max_age: int = DEFAULT_MAX_AGE) -> TrustBundle:
        """Parse a bundle payload strictly.

        Raises:
            TrustError: (``bad-bundle``) for any missing, unknown or malformed member.
        """
        expected = {"format", "version", "iat", "keys", "statusLists"}
        if not isinstance(payload, dict) or set(payload) != expected:
            raise TrustError("bundle payload has missing or unknown members")
        if type(payload["format"]) is not int or payload["format"] != BUNDLE_FORMAT:  # not true
            raise TrustError(f"unsupported bundle format {payload['format']!r}")
        if not isinstance(payload["keys"], list) or not isinstance(payload["statusLists"], list):
            raise TrustError("bundle keys and statusLists must be arrays")
        try:
            keys = tuple(VerificationKey.from_jwk(k, strict=True) for k in payload["keys"])
            lists = []
            for entry in payload["statusLists"]:
                if not isinstance(entry, dict) or set(entry) != {
                    "id",
                    "purpose",
                    "size",
                    "encodedList",
                }:
                    raise TrustError("status list entry has missing or unknown members")
                if entry["purpose"] not in PURPOSES:
                    raise TrustError(f"unknown status purpose {entry['purpose']!r}")
                sl = StatusList.decode(entry["id"], entry["purpose"], entry["encodedList"])
                if sl.size != entry["size"]:
                    raise TrustError("status list size does not match its encodedList")
                lists.append(sl)
            return cls(payload["version"], payload["iat"], keys, tuple(lists), max_age)
        except TrustError:
            raise
        except CardError as e:
            raise TrustError(f"bad bundle content: {e}") from e


#: The largest integer a bundle's JSON may hold (RFC 8259 §6: exact in every parser).
MAX_JSON_INTEGER = 2**53 - 1


def is_bundle_typ(typ: object) -> bool:
    """Whether the JWS ``typ`` names ``application/unioncard-trust+jwt`` (RFC 7515 §4.1.9:
    media types compare case-insensitively, and a value without ``/`` stands for
    ``application/`` + the value); no parameters."""
    if not isinstance(typ, str) or not typ.isascii():
        return False
    media_type = typ.lower()
    if "/" not in media_type:
        media_type = "application/" + media_type
    return media_type == "application/" + BUNDLE_TYP


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("a member name appears twice in one object")
    return members


def _no_fraction(text: str) -> Any:
    raise ValueError(f"{text} is not an integer (no fraction or exponent)")


def _safe_integer(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_JSON_INTEGER:
        raise ValueError(f"{text} is beyond 2^53 - 1")
    return value


def read_json(body: bytes) -> Any:
    """A bundle payload's JSON, strictly (docs/uc1.md §5): UTF-8 without a byte-order mark,
    no member name twice in an object, integers only (no fraction, no exponent, no NaN or
    Infinity), none beyond 2^53 - 1.

    Raises:
        TrustError: (``bad-bundle``) for anything else.
    """
    try:
        text = body.decode("utf-8")
        if text.startswith("\ufeff"):
            raise ValueError("a byte-order mark")
        return json.loads(text, object_pairs_hook=_unique_members, parse_float=_no_fraction,
                          parse_constant=_no_fraction, parse_int=_safe_integer)
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError and JSONDecodeError too
        raise TrustError(f"bundle payload is not strict JSON: {e}") from e


def _root_private(root_key: SigningKey | ec.EllipticCurvePrivateKey) -> ec.EllipticCurvePrivateKey:
    return root_key.private_key if isinstance(root_key, SigningKey) else root_key


def sign_bundle(bundle: TrustBundle, root_key: SigningKey | ec.EllipticCurvePrivateKey) -> str:
    """Sign ``bundle`` as a compact JWS (ES256) with the root key."""
    private = _root_private(root_key)
    body = json.dumps(bundle.to_payload(), separators=(",", ":"), sort_keys=True)
    headers = {"typ": BUNDLE_TYP, "kid": jwk_thumbprint(private.public_key())}
    return jwt.api_jws.PyJWS().encode(
        body.encode("utf-8"), private, algorithm=BUNDLE_ALG, headers=headers
    )


def build_bundle(
    *,
    keys: Iterable[VerificationKey | SigningKey],
    status_lists: Iterable[StatusList] = (),
    version: int,
    now: Instant,
    root_key: SigningKey | ec.EllipticCurvePrivateKey,
) -> str:
    """Assemble and sign a trust bundle issued at ``now``; return the compact JWS text.

    Signing keys are published by their public half with status ``active``; pass
    :class:`VerificationKey` entries to publish ``retired`` or ``revoked`` keys.
    """
    entries = tuple(k.verification_key() if isinstance(k, SigningKey) else k for k in keys)
    bundle = TrustBundle(version, epoch_seconds(now), entries, tuple(status_lists))
    return sign_bundle(bundle, root_key)


def load_bundle(
    jws_text: str,
    root_public_jwk: Mapping[str, Any] | str,
    *,
    now: Instant,
    max_age: int = DEFAULT_MAX_AGE,
    min_version: int | None = None,
    skew: int = DEFAULT_SKEW,
) -> TrustBundle:
    """Verify a bundle's ES256 signature with the pinned root key, then parse it.

    ``min_version`` (the last version the scanner accepted) refuses rollbacks.

    Raises:
        TrustError: ``bad-root-key`` for an unusable pinned key; ``bad-bundle-signature`` for
            an unsigned, tampered or other-key bundle; ``bad-bundle`` for a malformed one;
            ``bundle-from-future`` when issued after ``now`` (beyond ``skew``);
            ``bundle-rollback`` when older than ``min_version``.
    """
    try:
        jwk = json.loads(root_public_jwk) if isinstance(root_public_jwk, str) else root_public_jwk
        root = public_key_from_jwk(jwk)
    except (ValueError, CardError) as e:
        raise TrustError("the pinned root key is not a P-256 public JWK", reason="bad-root-key") from e
    if not isinstance(jws_text, str) or len(jws_text) > MAX_BUNDLE_CHARS:
        raise TrustError("bundle must be text of bounded size")
    jws_text = jws_text.strip()
    try:
        header = jwt.get_unverified_header(jws_text)
        # the header as strict JSON too (§5): a name twice is refused, not read last-wins
        read_json(jwt.utils.base64url_decode(jws_text.split(".", 1)[0]))
    except (jwt.PyJWTError, ValueError) as e:
        raise TrustError("bundle is not a compact JWS") from e
    if header.get("alg") != BUNDLE_ALG:
        raise TrustError(f"bundle alg {header.get('alg')!r} is not ES256", reason="bad-bundle-signature")
    if not is_bundle_typ(header.get("typ")):
        raise TrustError("bundle has the wrong JWS typ")
    try:
        body = jwt.api_jws.PyJWS().decode(jws_text, root, algorithms=[BUNDLE_ALG])
    except jwt.InvalidSignatureError as e:
        raise TrustError("bundle signature does not verify", reason="bad-bundle-signature") from e
    except jwt.PyJWTError as e:
        raise TrustError("bundle is not a valid JWS", reason="bad-bundle-signature") from e
    payload = read_json(body)
    bundle = TrustBundle.from_payload(payload, max_age=max_age)
    if bundle.issued_at > epoch_seconds(now) + skew:
        raise TrustError("bundle issued in the future", reason="bundle-from-future")
    if min_version is not None and bundle.version < min_version:
        raise TrustError("bundle older than the last accepted one", reason="bundle-rollback")
    return bundle
