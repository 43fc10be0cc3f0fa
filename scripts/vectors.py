"""Generate docs/vectors/: UC1 conformance vectors for other scanners (docs/uc1.md).

Run: .venv/bin/python scripts/vectors.py [--check]

Every case names the card text, the trust bundle and pinned root key to use, the time to
verify the card at, an optional bundle version floor, and the expected outcome, stated here
by hand for each case (never read back from ``cards.verify``): status, reason, warnings and
claims, or the reason the bundle is refused. Signatures are deterministic (RFC 6979), so the
output is reproducible byte for byte; ``--check`` fails when the committed files differ
(``tests/cards/test_vectors.py`` runs the same check, and every case against ``cards.verify``
and ``python -m cards verify``).
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import hmac
import json
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cbor2  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature  # noqa: E402

from cards import testing  # noqa: E402
from cards.claims import CardClaims, EmergencyCore  # noqa: E402
from cards.encoding import b45encode, deflate  # noqa: E402
from cards.keys import SigningKey, VerificationKey  # noqa: E402
from cards.status import StatusList  # noqa: E402
from cards.trust import TrustBundle  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "docs" / "vectors"
DETERMINISTIC = ec.ECDSA(hashes.SHA256(), deterministic_signing=True)
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
NOW = testing.REFERENCE_NOW
T0 = int(NOW.timestamp())
DAY = 86400
SKEW = 300
REVOKED_INDEX, SUSPENDED_INDEX, BOTH_INDEX = 4242, 5353, 6464
FUTURE = int(datetime(2100, 1, 1, tzinfo=timezone.utc).timestamp())


def iso(t: int) -> str:
    """Epoch seconds as ``2025-11-01T08:00:00Z``."""
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


# --- keys ----------------------------------------------------------------------------------

KEY = testing.signing_key()  # VN-VGCL-79
OTHER = testing.other_signing_key()  # VN-VGCL-79, not in the default bundle
ROOT = testing.root_key()


def _fixed_key(issuer: str, secret: int) -> SigningKey:
    """A key made from a fixed scalar (reproducible; public test material only)."""
    private = ec.derive_private_key(secret, ec.SECP256R1())
    return SigningKey(private, issuer, T0 - 365 * DAY)


NATIONAL = _fixed_key("VN-VGCL", 0x5EC0_0001)  # a second issuer
RETIRED = _fixed_key("VN-VGCL-79", 0x5EC0_0002)
COMPROMISED = _fixed_key("VN-VGCL-79", 0x5EC0_0003)
FORGER_ROOT = _fixed_key("ROOT", 0x5EC0_0004)


def sign_raw(private: ec.EllipticCurvePrivateKey, data: bytes, *, high_s: bool = False) -> bytes:
    """Deterministic ES256 ``r || s`` (low S unless ``high_s``)."""
    r, s = decode_dss_signature(private.sign(data, DETERMINISTIC))
    s = min(s, P256_N - s)
    if high_s:
        s = P256_N - s
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


# --- card texts ----------------------------------------------------------------------------


def claims(**changes: Any) -> CardClaims:
    return testing.reference_claims(**changes)


def claims_map(**changes: Any) -> dict[int, Any]:
    """The reference claims map with raw (unchecked) changes."""
    result: dict[int, Any] = claims().to_cbor_map()
    for key, value in changes.items():  # k1 -> claim 1, km5 -> claim -5
        result[int(key.replace("k", "").replace("m", "-"))] = value
    return result


def once(data: bytes, old: bytes, new: bytes) -> bytes:
    """``data`` with its one occurrence of ``old`` replaced (fails unless exactly one)."""
    if data.count(old) != 1:
        raise ValueError(f"{old.hex()} occurs {data.count(old)} times")
    return data.replace(old, new)


def head(major: int, value: int) -> bytes:
    """The shortest CBOR head."""
    if value < 24:
        return bytes([major << 5 | value])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if value < 1 << (8 * size):
            return bytes([major << 5 | info]) + value.to_bytes(size, "big")
    raise ValueError(value)


def bstr(data: bytes) -> bytes:
    return head(2, len(data)) + data


@dataclass
class Message:
    """A COSE_Sign1 built byte by byte, so that non-canonical forms can be made."""

    payload: bytes
    key: SigningKey = KEY
    protected: bytes | None = None  # default: a2 01 26 04 48 <kid of key>
    unprotected: bytes = b"\xa0"
    tag: bytes = b"\xd2"
    array_head: bytes = b"\x84"
    payload_field: bytes | None = None  # default: bstr(payload)
    signature: bytes | None = None  # default: signed
    signature_field: Callable[[bytes], bytes] = bstr
    high_s: bool = False
    sign_payload: bytes | None = None  # sign these bytes instead of the payload
    kid: bytes | None = None

    def build(self) -> bytes:
        kid = self.kid if self.kid is not None else self.key.short_kid
        protected = self.protected if self.protected is not None else \
            bytes.fromhex("a201260448") + kid
        signed_payload = self.sign_payload if self.sign_payload is not None else self.payload
        tbs = cbor2.dumps(["Signature1", protected, b"", signed_payload])
        signature = self.signature if self.signature is not None else \
            sign_raw(self.key.private_key, tbs, high_s=self.high_s)
        payload_field = self.payload_field if self.payload_field is not None else \
            bstr(self.payload)
        return (self.tag + self.array_head + bstr(protected) + self.unprotected + payload_field
                + self.signature_field(signature))


def card_text(message: bytes, *, compress: bool | None = None) -> str:
    """``UC1:`` + base45 of the message, zlib when shorter (or as forced)."""
    packed = deflate(message)
    use = len(packed) < len(message) if compress is None else compress
    return "UC1:" + b45encode(packed if use else message)


def text_of(payload: bytes | CardClaims | dict[int, Any], **options: Any) -> str:
    if isinstance(payload, CardClaims):
        payload = payload.to_cbor()
    elif isinstance(payload, dict):
        payload = cbor2.dumps(payload)
    return card_text(Message(payload, **options).build())


# --- trust bundles -------------------------------------------------------------------------


def jws(header: dict[str, Any], payload: bytes, private: ec.EllipticCurvePrivateKey | None,
        *, signature: bytes | None = None) -> str:
    """A compact JWS, signed deterministically with ``private`` (or the given signature)."""
    signing_input = f"{b64url(json.dumps(header, separators=(',', ':'), sort_keys=True).encode())}" \
                    f".{b64url(payload)}"
    if signature is None:
        assert private is not None
        signature = sign_raw(private, signing_input.encode("ascii"))
    return f"{signing_input}.{b64url(signature)}"


def lists(list_id: int = 1) -> tuple[StatusList, ...]:
    revocation, suspension = testing.status_lists(
        list_id, revoked=(REVOKED_INDEX, BOTH_INDEX), suspended=(SUSPENDED_INDEX, BOTH_INDEX))
    return revocation, suspension


def bundle_payload(*, version: int = 10, iat: int = T0,
                   keys: tuple[VerificationKey, ...] | None = None,
                   status_lists: tuple[StatusList, ...] | None = None) -> dict[str, Any]:
    entries = keys if keys is not None else (
        KEY.verification_key(), NATIONAL.verification_key(),
        RETIRED.verification_key("retired"), COMPROMISED.verification_key("revoked"))
    bundle = TrustBundle(version, iat, entries, status_lists if status_lists is not None
                         else lists())
    return bundle.to_payload()


def bundle_text(payload: dict[str, Any] | bytes | None = None, *, root: SigningKey = ROOT,
                header: dict[str, Any] | None = None, **kwargs: Any) -> str:
    body = payload if payload is not None else bundle_payload(**kwargs)
    data = body if isinstance(body, bytes) else \
        json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")
    hdr = header if header is not None else {"alg": "ES256", "typ": "unioncard-trust+jwt",
                                             "kid": root.kid}
    return jws(hdr, data, root.private_key)


# --- cases ---------------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    step: str
    description: str
    text: str
    expect: dict[str, Any]
    bundle: str = "default"
    time: int = T0
    min_version: int | None = None
    root: str = "root"

    def to_json(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": self.id, "step": self.step, "description": self.description,
            "text": self.text, "trust_bundle": f"bundles/{self.bundle}.jws",
            "root_key": f"keys/{self.root}.jwk", "time": iso(self.time)}
        if self.min_version is not None:
            entry["min_version"] = self.min_version
        entry["expected"] = self.expect
        return entry


@dataclass
class Vectors:
    cases: list[Case] = field(default_factory=list)
    bundles: dict[str, str] = field(default_factory=dict)

    def add(self, step: str, id: str, description: str, text: str, status: str, reason: str,
            *, claims: CardClaims | None = None, warnings: tuple[str, ...] = (),
            **options: Any) -> None:
        shown = status in ("valid", "expired", "not-yet-valid", "revoked", "suspended")
        if shown and claims is None:
            raise ValueError(f"{id}: a {status} case states its claims")
        expect = {"status": status, "reason": reason, "warnings": sorted(warnings),
                  "claims": claims.to_dict() if shown and claims is not None else None}
        self.cases.append(Case(id, step, description, text, expect, **options))

    def refuse_bundle(self, id: str, description: str, bundle: str, reason: str,
                      **options: Any) -> None:
        text = text_of(claims())
        self.cases.append(Case(id, "bundle", description, text,
                               {"bundle_rejected": reason}, bundle=bundle, **options))


def _valid_cases(v: Vectors) -> None:
    ref = claims()
    v.add("12", "valid-reference", "the reference card of docs/uc1.md §10", text_of(ref),
          "valid", "ok", claims=ref)
    emergency = claims(emergency=testing.REFERENCE_EMERGENCY)
    v.add("12", "valid-emergency-core", "the reference card with an emergency core",
          text_of(emergency), "valid", "ok", claims=emergency)
    variants: list[tuple[str, str, CardClaims]] = [
        ("blood-group-only", "emergency core of a blood group only",
         claims(emergency=EmergencyCore(blood_group="AB-"))),
        ("allergies-only", "emergency core of three allergies only",
         claims(emergency=EmergencyCore(allergies=("Penicillin", "Aspirin", "Tôm")))),
        ("conditions-only", "emergency core of three ICD-10 codes only",
         claims(emergency=EmergencyCore(conditions=("E11", "I10", "J45.909")))),
        ("allergy-32-chars", "an allergy of exactly 32 characters",
         claims(emergency=EmergencyCore(allergies=("A" * 32,)))),
        ("name-80-chars", "a name of exactly 80 characters",
         claims(name=("Nguyễn Thị Kim Yến " * 5)[:80])),
        ("name-one-char", "a one-character name", claims(name="Y")),
        ("name-inner-spaces", "a name with inner spaces and an apostrophe",
         claims(name="H'Hen Niê  Êban")),
        ("birth-1900-01-01", "the earliest birth date", claims(birth_date=date(1900, 1, 1))),
        ("birth-before-1970", "a birth date before 1970 (negative day count)",
         claims(birth_date=date(1950, 6, 30))),
        ("birth-on-issue-date", "born on the issue date (UTC and Vietnam dates agree)",
         claims(birth_date=date(2025, 11, 1))),
        ("birth-on-vietnam-issue-date",
         "issued 2025-10-31T20:00Z = 2025-11-01 03:00 in Vietnam, born 2025-11-01 (§3 uses "
         "the Vietnam date)",
         claims(birth_date=date(2025, 11, 1), issued_at=T0 - 12 * 3600)),
        ("national-issuer", "issuer VN-VGCL, signed by the key published for it",
         claims(issuer="VN-VGCL")),
        ("member-24-chars", "member number and union code of 24 characters",
         claims(member_number="79-0123456789/ABCDEF.GHJ", union_code="79-CDCS-0421-ABCD/EFG.HJ")),
        ("index-zero", "status index 0", claims(status_index=0)),
        ("index-last", "status index size − 1", claims(status_index=131071)),
        ("exp-just-after-iat", "expires one second after issue",
         claims(expires_at=T0 + 1)),
    ]
    for name, description, c in variants:
        key = NATIONAL if c.issuer == "VN-VGCL" else KEY
        v.add("12", f"valid-{name}", description, text_of(c, key=key), "valid", "ok", claims=c)
    c = claims(name="A" * 80, emergency=EmergencyCore(allergies=("A" * 32, "B" * 32, "C" * 32)))
    v.add("4", "valid-zlib", "a compressible card: the text carries the zlib stream (78 ..)",
          text_of(c), "valid", "ok", claims=c)
    v.add("4", "valid-zlib-forced", "zlib even though not shorter: verifiers still inflate",
          card_text(Message(ref.to_cbor()).build(), compress=True), "valid", "ok", claims=ref)
    v.add("7", "valid-high-s", "an ECDSA signature with high S (n − s): verifiers accept it "
          "(§2: cards already issued carry either form; issuers now emit low S)",
          text_of(ref, high_s=True), "valid", "ok", claims=ref)
    v.add("9", "valid-retired-key", "signed by a retired key: still valid until it expires",
          text_of(ref, key=RETIRED), "valid", "ok", claims=ref)
    v.add("11", "valid-iat-skew", "verified 300 s before issue (the allowed skew)",
          text_of(ref), "valid", "ok", claims=ref, time=T0 - SKEW)
    v.add("11", "valid-exp-skew", "verified 300 s after expiry (the allowed skew), with the "
          "bundle of five years before: stale", text_of(ref), "valid", "ok", claims=ref,
          time=ref.expires_at + SKEW, warnings=("stale-trust-bundle",))
    v.add("10", "valid-list-id-max", "status list id 2^32 − 1, carried by the bundle",
          text_of(claims(status_list_id=2**32 - 1)), "valid", "ok",
          claims=claims(status_list_id=2**32 - 1), bundle="list-max-id")


def _layer_cases(v: Vectors) -> None:
    good = text_of(claims())
    message = Message(claims().to_cbor()).build()
    invalid = "invalid"
    v.add("1", "too-long-4097", "4097 characters", "UC1:" + "0" * 4093, invalid, "too-long")
    v.add("1", "too-long-valid-prefix", "a valid card followed by spaces up to 4097",
          good + " " * (4097 - len(good)), invalid, "too-long")
    v.add("3", "max-length-not-base45", "4096 characters is not too long (then bad base45)",
          "UC1:" + "0" * 4091 + "a", invalid, "bad-base45")
    for name, text in (("empty", ""), ("hc1", "HC1:" + good[4:]), ("lowercase", "uc1:" + good[4:]),
                       ("leading-space", " " + good), ("leading-newline", "\n" + good),
                       ("uc2", "UC2:" + good[4:]), ("no-colon", "UC1" + good[4:]),
                       ("bom", "\ufeff" + good), ("fullwidth", "ＵＣ１:" + good[4:]),
                       ("prefix-only-lower", "Uc1:" + good[4:])):
        v.add("2", f"bad-prefix-{name}", f"prefix case: {name}", text, invalid, "bad-prefix")
    for name, text in (("lowercase", good[:10] + good[10:].lower()),
                       ("hash", good[:-1] + "#"), ("underscore", good[:8] + "_" + good[9:]),
                       ("non-ascii", good[:8] + "Đ" + good[9:]),
                       ("length-3k1", "UC1:0000"), ("chunk-over-65535", "UC1:GGW"),
                       ("pair-over-255", "UC1:GH"),
                       ("trailing-newline", good + "\n"), ("trailing-tab", good + "\t"),
                       ("trailing-crlf", good + "\r\n")):
        v.add("3", f"bad-base45-{name}", f"base45 case: {name}", text, invalid, "bad-base45")
    v.add("3", "empty-body", "the prefix alone: an empty message", "UC1:", invalid, "bad-cose")
    packed = deflate(message)
    v.add("4", "bad-zlib-truncated", "a zlib stream cut short",
          "UC1:" + b45encode(packed[:-6]), invalid, "bad-zlib")
    v.add("4", "bad-zlib-trailing", "bytes after the end of the zlib stream",
          "UC1:" + b45encode(packed + b"\x00"), invalid, "bad-zlib")
    v.add("4", "bad-zlib-checksum", "a wrong Adler-32",
          "UC1:" + b45encode(packed[:-1] + bytes([packed[-1] ^ 1])), invalid, "bad-zlib")
    v.add("4", "bad-zlib-garbage", "0x78 then garbage",
          "UC1:" + b45encode(b"\x78\x9c\xff\xff\xff\xff"), invalid, "bad-zlib")
    v.add("4", "too-large-decompressed", "a zlib stream of 16,385 bytes",
          "UC1:" + b45encode(zlib.compress(b"\x00" * 16385, 9)), invalid,
          "too-large-decompressed")
    v.add("4", "bomb", "a zlib bomb (1 MB of zeros)",
          "UC1:" + b45encode(zlib.compress(b"\x00" * 1_000_000, 9)), invalid,
          "too-large-decompressed")
    v.add("5", "decompressed-16384", "exactly 16,384 bytes inflate; they are not COSE",
          "UC1:" + b45encode(zlib.compress(b"\x00" * 16384, 9)), invalid, "bad-cose")


def _cose_cases(v: Vectors) -> None:
    payload = claims().to_cbor()
    invalid = "invalid"

    def message_case(id: str, description: str, reason: str, **options: Any) -> None:
        v.add("5" if reason == "bad-cose" else "6", id, description,
              card_text(Message(payload, **options).build()), invalid, reason)

    message_case("untagged", "a COSE_Sign1 without tag 18 (§2: one form, tagged)", "bad-cose",
                 tag=b"")
    message_case("cwt-tag-61", "tag 18 inside CWT tag 61 (§2: not accepted)", "bad-cose",
                 tag=b"\xd8\x3d\xd2")
    message_case("tag-17", "COSE_Mac0's tag 17", "bad-cose", tag=b"\xd1")
    message_case("tag-98", "COSE_Sign's tag 98", "bad-cose", tag=b"\xd8\x62")
    message_case("tag-18-long-form", "tag 18 in a non-shortest head (d8 12)", "bad-cose",
                 tag=b"\xd8\x12")
    message_case("array-head-long-form", "the array head in a non-shortest form (98 04)",
                 "bad-cose", array_head=b"\x98\x04")
    message_case("indefinite-array", "an indefinite-length array", "bad-cose",
                 array_head=b"\x9f", signature_field=lambda s: bstr(s) + b"\xff")
    message_case("payload-length-long-form", "the payload length as 59 00 xx", "bad-cose",
                 payload_field=b"\x59" + len(payload).to_bytes(2, "big") + payload)
    message_case("signature-length-long-form", "the signature length as 59 00 40", "bad-cose",
                 signature_field=lambda s: b"\x59\x00\x40" + s)
    message_case("payload-text", "the payload as a text string", "bad-cose",
                 payload_field=head(3, len(payload)) + payload)
    message_case("payload-null", "a detached (null) payload", "bad-cose", payload_field=b"\xf6")
    message_case("signature-text", "the signature as a text string", "bad-cose",
                 signature_field=lambda s: head(3, 64) + b"A" * 64)
    message_case("unprotected-array", "the unprotected header as an array", "bad-cose",
                 unprotected=b"\x80")
    message_case("unprotected-duplicate-key", "a key twice in the unprotected map", "bad-cose",
                 unprotected=b"\xa2\x01\x26\x01\x26")
    message_case("unprotected-deep", "nesting deeper than 16 in the unprotected header",
                 "bad-cose", unprotected=b"\xa1\x01" + b"\x81" * 20 + b"\x00")
    message = Message(payload).build()
    for id, description, data in (
            ("array-3", "an array of three items", b"\xd2\x83" + message[2:-66]),
            ("array-5", "an array of five items", b"\xd2\x85" + message[2:] + b"\x00"),
            ("map", "a map instead of an array", cbor2.dumps({1: 2})),
            ("trailing-byte", "a byte after the message", message + b"\x00"),
            ("truncated", "the message cut short", message[:-10]),
            ("text-item", "a text string", cbor2.dumps("hello")),
            ("protected-text", "the protected header as a text string",
             b"\xd2\x84" + head(3, 13) + message[3:])):
        v.add("5", f"bad-cose-{id}", description, card_text(data), invalid, "bad-cose")
    kid = KEY.short_kid
    for id, description, reason, protected, extra in (
            ("keys-reordered", "protected {4: kid, 1: -7}: the right keys in the other order "
             "(§2: exact bytes)", "bad-header", b"\xa2\x04\x48" + kid + b"\x01\x26", {}),
            ("kid-length-long-form", "the kid's length as 58 08", "bad-header",
             b"\xa2\x01\x26\x04\x58\x08" + kid, {}),
            ("alg-long-form", "alg -7 as 38 06 (not shortest)", "bad-header",
             b"\xa2\x01\x38\x06\x04\x48" + kid, {}),
            ("extra-key", "an extra protected key (3: content type)", "bad-header",
             cbor2.dumps({1: -7, 4: kid, 3: 0}), {}),
            ("duplicate-key", "alg twice in the protected header", "bad-header",
             b"\xa3\x01\x26\x01\x26\x04\x48" + kid, {}),
            ("protected-array", "the protected header holds an array", "bad-header",
             b"\x82\x01\x26", {}),
            ("protected-garbage", "the protected header is not CBOR", "bad-header",
             b"\xa2\x01", {}),
            ("protected-trailing", "a byte after the protected map", "bad-header",
             b"\xa2\x01\x26\x04\x48" + kid + b"\x00", {}),
            ("missing-kid", "protected {1: -7} only", "bad-header", b"\xa1\x01\x26", {}),
            ("unprotected-kid", "the kid in the unprotected header as well", "bad-header",
             None, {"unprotected": b"\xa1\x04\x48" + kid}),
            ("unprotected-alg", "alg -7 in the unprotected header as well", "bad-header",
             None, {"unprotected": b"\xa1\x01\x26"}),
            ("unprotected-other", "an unknown unprotected key", "bad-header",
             None, {"unprotected": b"\xa1\x18\x63\x00"}),
            ("alg-ps256", "alg PS256 (-37)", "unsupported-alg",
             cbor2.dumps({1: -37, 4: kid}), {}),
            ("alg-es384", "alg ES384 (-35)", "unsupported-alg",
             cbor2.dumps({1: -35, 4: kid}), {}),
            ("alg-eddsa", "alg EdDSA (-8)", "unsupported-alg", cbor2.dumps({1: -8, 4: kid}), {}),
            ("alg-hmac", "alg HMAC 256/256 (5)", "unsupported-alg",
             cbor2.dumps({1: 5, 4: kid}), {}),
            ("alg-none-text", 'alg "none"', "unsupported-alg",
             cbor2.dumps({1: "none", 4: kid}), {}),
            ("alg-es256-text", 'alg "ES256" as text', "unsupported-alg",
             cbor2.dumps({1: "ES256", 4: kid}), {}),
            ("alg-missing", "no alg: protected {4: kid}", "unsupported-alg",
             cbor2.dumps({4: kid}), {}),
            ("alg-only-unprotected", "alg only in the unprotected header", "unsupported-alg",
             cbor2.dumps({4: kid}), {"unprotected": b"\xa1\x01\x26"}),
            ("protected-empty", "an empty protected header (h'')", "unsupported-alg", b"", {}),
            ("protected-empty-map", "a protected header holding {}", "unsupported-alg",
             b"\xa0", {}),
            ("kid-text", "the kid as a text string", "bad-kid",
             cbor2.dumps({1: -7, 4: kid.hex()[:8]}), {}),
            ("kid-7-bytes", "a 7-byte kid", "bad-kid", cbor2.dumps({1: -7, 4: kid[:7]}), {}),
            ("kid-9-bytes", "a 9-byte kid", "bad-kid", cbor2.dumps({1: -7, 4: kid + b"\x00"}),
             {}),
            ("kid-full-thumbprint", "the full 32-byte thumbprint as kid", "bad-kid",
             cbor2.dumps({1: -7, 4: base64.urlsafe_b64decode(KEY.kid + "=")}), {}),
            ("kid-int", "an integer kid", "bad-kid", cbor2.dumps({1: -7, 4: 7}), {})):
        options = dict(extra)
        if protected is not None:
            options["protected"] = protected
        message_case(f"{reason}-{id}", description, reason, **options)


def _signature_cases(v: Vectors) -> None:
    payload = claims().to_cbor()
    invalid = "invalid"
    v.add("7", "unknown-kid-other-key", "signed by a key the bundle does not carry",
          text_of(payload, key=OTHER), "unknown-issuer", "unknown-kid")
    v.add("7", "unknown-kid-random", "a kid no key has",
          text_of(payload, kid=b"\x00" * 8), "unknown-issuer", "unknown-kid")
    v.add("7", "unknown-kid-before-signature-length", "an unknown kid with a 63-byte signature",
          text_of(payload, kid=b"\x01" * 8, signature=b"\x00" * 63), "unknown-issuer",
          "unknown-kid")
    for length in (0, 63, 65, 128):
        v.add("7", f"bad-signature-length-{length}", f"a {length}-byte signature",
              text_of(payload, signature=b"\x01" * length), invalid, "bad-signature-length")
    tbs = cbor2.dumps(["Signature1", bytes.fromhex("a201260448") + KEY.short_kid, b"", payload])
    der = KEY.private_key.sign(tbs, DETERMINISTIC)
    v.add("7", "bad-signature-length-der", "a DER signature (70–72 bytes), not r‖s",
          text_of(payload, signature=der), invalid, "bad-signature-length")
    good = Message(payload).build()
    signature = good[-64:]
    v.add("7", "bad-signature-zeros", "64 zero bytes", text_of(payload, signature=bytes(64)),
          invalid, "bad-signature")
    v.add("7", "bad-signature-flipped", "one bit of the signature flipped",
          text_of(payload, signature=signature[:-1] + bytes([signature[-1] ^ 1])), invalid,
          "bad-signature")
    v.add("7", "bad-signature-swapped", "s ‖ r instead of r ‖ s",
          text_of(payload, signature=signature[32:] + signature[:32]), invalid, "bad-signature")
    v.add("7", "bad-signature-other-claims", "a signature over other claims",
          text_of(payload, sign_payload=claims(name="Trần Văn Bình").to_cbor()), invalid,
          "bad-signature")
    v.add("7", "bad-signature-other-key-same-kid", "signed by another key under this key's kid",
          text_of(payload, key=OTHER, kid=KEY.short_kid), invalid, "bad-signature")
    v.add("7", "bad-signature-r-zero", "r = 0", text_of(payload, signature=bytes(32) +
                                                       signature[32:]), invalid, "bad-signature")
    v.add("7", "bad-signature-s-n", "s = n (out of range)",
          text_of(payload, signature=signature[:32] + P256_N.to_bytes(32, "big")), invalid,
          "bad-signature")


def _claims_cases(v: Vectors) -> None:
    invalid = "invalid"
    base = claims_map()

    def raw(id: str, description: str, payload: bytes, reason: str) -> None:
        v.add("8", id, description, text_of(payload), invalid, reason)

    def changed(id: str, description: str, reason: str = "bad-claims", **changes: Any) -> None:
        raw(id, description, cbor2.dumps(claims_map(**changes)), reason)

    encoded = cbor2.dumps(base)
    raw("bad-cbor-truncated", "the claims cut short", encoded[:-3], "bad-cbor")
    raw("bad-cbor-trailing", "a byte after the claims map", encoded + b"\x00", "bad-cbor")
    raw("bad-cbor-reserved", "reserved additional information 28", b"\x1c", "bad-cbor")
    raw("bad-cbor-break", "a lone break byte", b"\xff", "bad-cbor")
    raw("bad-cbor-empty", "an empty payload", b"", "bad-cbor")
    raw("bad-cbor-bad-utf8", "a name that is not UTF-8",
        once(encoded, "Nguyễn".encode(), b"Nguy\xff\xfe\xfdn"), "bad-cbor")
    raw("bad-claims-array", "an array, not a map", cbor2.dumps([1, 2]), "bad-claims")
    raw("bad-claims-int", "an integer, not a map", cbor2.dumps(7), "bad-claims")
    raw("bad-claims-empty-map", "an empty map", b"\xa0", "bad-claims")
    names = {1: "iss", 4: "exp", 6: "iat", -1: "version", -2: "serial", -3: "member",
             -4: "name", -5: "birth", -6: "union", -7: "province", -8: "list-id",
             -9: "index"}
    for key, name in names.items():
        missing = {k: val for k, val in base.items() if k != key}
        raw(f"bad-claims-missing-{name}", f"claim {key} ({name}) missing", cbor2.dumps(missing),
            "bad-claims")
    changed("bad-claims-unknown-m11", "an unknown claim -11", km11=1)
    changed("bad-claims-unknown-2", "claim 2 (CWT sub), unknown to UC1", k2="x")
    changed("bad-claims-emergency-null", "emergency present as null (§3: omitted)", km10=None)
    raw("bad-claims-duplicate-key", "the name claim twice (same value)",
        encoded[:1].replace(b"\xac", b"\xad") + encoded[1:] + cbor2.dumps(-4)
        + cbor2.dumps("Nguyễn Thị Kim Yến"), "bad-claims")
    day = (date(1994, 3, 8) - date(1970, 1, 1)).days
    changed("bad-claims-birth-tag-100", "the birth date wrapped in tag 100 (§3: untagged)",
            km5=cbor2.CBORTag(100, day))
    changed("bad-claims-birth-tag-1004", "the birth date as tag 1004 text",
            km5=cbor2.CBORTag(1004, "1994-03-08"))
    changed("bad-claims-exp-bignum", "exp as a bignum (tag 2)",
            k4=cbor2.CBORTag(2, claims().expires_at.to_bytes(4, "big")))
    changed("bad-claims-iat-epoch-tag", "iat wrapped in tag 1 (epoch time)",
            k6=cbor2.CBORTag(1, T0))
    changed("bad-claims-index-bignum-same-size", "status index 98765 as a bignum: c2 43 01 81 "
            "cd is as long as its canonical 1a 00 01 81 cd", km9=cbor2.CBORTag(2, b"\x01\x81\xcd"))
    same = cbor2.dumps(claims_map(km6="79-00012345"))  # union code = member number
    member = cbor2.dumps("79-00012345")
    shared = once(once(same, b"\x22" + member, b"\x22\xd8\x1c" + member),
                  b"\x25" + member, b"\x25\xd8\x1d\x00")
    raw("bad-claims-shared-reference", "the union code as a reference (tag 29) to the member "
        "number marked shareable (tag 28): shorter than canonical", shared, "bad-claims")
    changed("bad-claims-issuer-int", "issuer as an integer", k1=79)
    changed("bad-claims-issuer-lowercase", "issuer vn-vgcl-79", k1="vn-vgcl-79")
    changed("bad-claims-issuer-shape", "issuer of one part", k1="VN")
    changed("bad-claims-exp-text", "exp as text", k4=str(claims().expires_at))
    changed("bad-claims-exp-float", "exp as a float", k4=float(claims().expires_at))
    changed("bad-claims-exp-before-iat", "exp equal to iat", k4=T0)
    changed("bad-claims-exp-2-53", "exp ≥ 2^53", k4=2**53)
    changed("bad-claims-iat-negative", "iat negative", k6=-1)
    changed("bad-claims-serial-9", "a 9-byte serial", km2=b"\x01" * 9)
    changed("bad-claims-serial-text", "the serial as text", km2="K5Q2M7XRT4HZ3WBA")
    changed("bad-claims-member-empty", "an empty member number", km3="")
    changed("bad-claims-member-lowercase", "a member number in lowercase", km3="79-abc")
    changed("bad-claims-member-25", "a member number of 25 characters", km3="7" * 25)
    changed("bad-claims-name-empty", "an empty name", km4="")
    changed("bad-claims-name-81", "a name of 81 characters", km4="Y" * 81)
    changed("bad-claims-name-nfd", "a name in NFD (decomposed)",
            km4="Nguye\u0302\u0303n Thi\u0323")
    changed("bad-claims-name-nbsp", "a no-break space inside the name (§3: printable = no "
            "space but U+0020)", km4="Nguyễn\u00a0Yến")
    changed("bad-claims-name-leading-space", "a leading space", km4=" Nguyễn Yến")
    changed("bad-claims-name-trailing-space", "a trailing space", km4="Nguyễn Yến ")
    changed("bad-claims-name-control", "a control character", km4="Nguyễn\tYến")
    changed("bad-claims-name-newline", "a line feed", km4="Nguyễn\nYến")
    changed("bad-claims-name-zero-width", "a zero-width joiner (format character)",
            km4="Nguyễn\u200dYến")
    changed("bad-claims-name-private-use", "a private-use character", km4="Nguyễn\ue000")
    changed("bad-claims-name-line-separator", "U+2028 line separator", km4="Nguyễn\u2028Yến")
    changed("bad-claims-birth-text", "the birth date as text", km5="1994-03-08")
    changed("bad-claims-birth-before-1900", "born 1899-12-31",
            km5=(date(1899, 12, 31) - date(1970, 1, 1)).days)
    changed("bad-claims-birth-after-issue", "born the day after the Vietnam issue date",
            km5=(date(2025, 11, 2) - date(1970, 1, 1)).days)
    changed("bad-claims-union-empty", "an empty union code", km6="")
    changed("bad-claims-province-one-digit", "province 7", km7="7")
    changed("bad-claims-province-three", "province 790", km7="790")
    changed("bad-claims-province-int", "province as an integer", km7=79)
    changed("bad-claims-list-id-2-32", "status list id 2^32", km8=2**32)
    changed("bad-claims-list-id-negative", "status list id −1", km8=-1)
    changed("bad-claims-index-2-32", "status index 2^32", km9=2**32)
    changed("bad-claims-index-text", "status index as text", km9="98765")
    changed("bad-claims-emergency-map", "the emergency core as a map", km10={"blood": "O+"})
    changed("bad-claims-emergency-2", "an emergency array of two", km10=["O+", []])
    changed("bad-claims-emergency-empty", "an empty core [null, [], []]", km10=[None, [], []])
    changed("bad-claims-blood-o", "blood group O", km10=["O", [], []])
    changed("bad-claims-blood-list", "blood group as an array", km10=[["O+"], [], []])
    changed("bad-claims-allergies-4", "four allergies", km10=[None, ["a", "b", "c", "d"], []])
    changed("bad-claims-allergy-33", "an allergy of 33 characters", km10=[None, ["A" * 33], []])
    changed("bad-claims-allergy-duplicate", "the same allergy twice",
            km10=[None, ["Tôm", "Tôm"], []])
    changed("bad-claims-allergy-list", "an allergy that is an array",
            km10=[None, [["Tôm"]], []])
    changed("bad-claims-condition-icd", "a condition that is not ICD-10",
            km10=[None, [], ["diabetes"]])
    changed("bad-claims-conditions-4", "four conditions",
            km10=[None, [], ["E11", "I10", "J45", "K21"]])
    changed("bad-version-2", "version 2", "bad-version", km1=2)
    changed("bad-version-0", "version 0", "bad-version", km1=0)
    changed("bad-version-text", "version as the text \"1\" (any value but the integer 1)",
            "bad-version", km1="1")
    reordered = dict(reversed(list(base.items())))
    raw("non-canonical-key-order", "claims in reverse key order", cbor2.dumps(reordered),
        "non-canonical")
    swapped = dict(base)
    swapped = {k: swapped[k] for k in (4, 1, *list(base)[2:])}
    raw("non-canonical-two-keys-swapped", "exp before iss", cbor2.dumps(swapped),
        "non-canonical")
    long_iat = once(encoded, b"\x06\x1a" + T0.to_bytes(4, "big"),
                               b"\x06\x1b" + T0.to_bytes(8, "big"))
    raw("non-canonical-iat-8-bytes", "iat in an 8-byte head", long_iat, "non-canonical")
    long_version = once(encoded, b"\x20\x01", b"\x20\x18\x01")
    raw("non-canonical-version-long", "version 1 as 18 01", long_version, "non-canonical")
    long_key = once(encoded, b"\x20\x01", b"\x38\x00\x01")
    raw("non-canonical-key-long", "key -1 as 38 00", long_key, "non-canonical")
    name = "Nguyễn Thị Kim Yến".encode()
    long_text = once(encoded, b"\x78" + bytes([len(name)]) + name,
                                b"\x79\x00" + bytes([len(name)]) + name)
    raw("non-canonical-name-length", "the name's length as 79 00 xx", long_text,
        "non-canonical")
    indefinite_name = once(encoded, b"\x78" + bytes([len(name)]) + name,
                                      b"\x7f" + head(3, 8) + name[:8] + head(3, len(name) - 8)
                                      + name[8:] + b"\xff")  # chunks of whole characters
    raw("non-canonical-name-indefinite", "the name as an indefinite-length string",
        indefinite_name, "non-canonical")
    raw("non-canonical-map-indefinite", "an indefinite-length claims map",
        b"\xbf" + encoded[1:] + b"\xff", "non-canonical")
    raw("non-canonical-map-head", "the map head as b8 0c", b"\xb8\x0c" + encoded[1:],
        "non-canonical")


def _status_cases(v: Vectors) -> None:
    revoked = claims(status_index=REVOKED_INDEX)
    suspended = claims(status_index=SUSPENDED_INDEX)
    both = claims(status_index=BOTH_INDEX)
    v.add("10", "revoked", "its bit is set in the revocation list", text_of(revoked),
          "revoked", "revoked", claims=revoked)
    v.add("10", "suspended", "its bit is set in the suspension list", text_of(suspended),
          "suspended", "suspended", claims=suspended)
    v.add("10", "revoked-and-suspended", "both bits set: revocation comes first",
          text_of(both), "revoked", "revoked", claims=both)
    v.add("10", "revoked-and-expired", "revoked and expired: revoked (§7 precedence)",
          text_of(revoked), "revoked", "revoked", claims=revoked,
          time=revoked.expires_at + SKEW + 1, warnings=("stale-trust-bundle",))
    v.add("10", "suspended-not-yet-valid", "suspended and not yet valid: suspended",
          text_of(suspended), "suspended", "suspended", claims=suspended,
          time=T0 - SKEW - 1)
    v.add("10", "neighbour-bits-clear", "the index next to a revoked one is valid",
          text_of(claims(status_index=REVOKED_INDEX + 1)), "valid", "ok",
          claims=claims(status_index=REVOKED_INDEX + 1))
    v.add("10", "bad-status-index", "an index beyond the list's 131,072 entries",
          text_of(claims(status_index=131072)), "invalid", "bad-status-index")
    other = claims(status_list_id=2)
    v.add("10", "status-list-missing", "the bundle carries no list 2: a warning",
          text_of(other), "valid", "ok", claims=other, warnings=("status-list-missing",))
    v.add("10", "status-list-missing-expired", "no list, and expired",
          text_of(other), "expired", "expired", claims=other,
          warnings=("stale-trust-bundle", "status-list-missing"),
          time=other.expires_at + SKEW + 1)
    v.add("10", "larger-list", "a list of 262,144 entries: index 200,000 is valid",
          text_of(claims(status_index=200_000)), "valid", "ok",
          claims=claims(status_index=200_000), bundle="large-lists")
    ref = claims()
    v.add("9", "issuer-mismatch", "a VN-VGCL-79 card signed by the VN-VGCL key",
          text_of(ref, key=NATIONAL), "invalid", "issuer-mismatch")
    v.add("9", "issuer-mismatch-national", "a VN-VGCL card signed by the VN-VGCL-79 key",
          text_of(claims(issuer="VN-VGCL")), "invalid", "issuer-mismatch")
    v.add("9", "key-compromise", "signed by a key published as revoked",
          text_of(ref, key=COMPROMISED), "revoked", "key-compromise", claims=ref)
    v.add("9", "key-compromise-and-listed", "revoked key and revoked bit: key-compromise",
          text_of(revoked, key=COMPROMISED), "revoked", "key-compromise", claims=revoked)
    v.add("9", "key-compromise-expired", "revoked key, card expired: key-compromise",
          text_of(ref, key=COMPROMISED), "revoked", "key-compromise", claims=ref,
          time=ref.expires_at + SKEW + 1, warnings=("stale-trust-bundle",))
    v.add("11", "not-yet-valid", "301 s before issue", text_of(ref), "not-yet-valid",
          "not-yet-valid", claims=ref, time=T0 - SKEW - 1)
    far = claims(issued_at=2**52, expires_at=2**53 - 1)
    v.add("11", "not-yet-valid-far-future", "issued at 2^52 s (after year 9999): a valid "
          "claim, not yet valid", text_of(far), "not-yet-valid", "not-yet-valid", claims=far)
    v.add("11", "not-yet-valid-day-before", "a day before issue", text_of(ref),
          "not-yet-valid", "not-yet-valid", claims=ref, time=T0 - DAY)
    v.add("11", "expired", "301 s after expiry (the bundle is stale by then)", text_of(ref),
          "expired", "expired", claims=ref, time=ref.expires_at + SKEW + 1,
          warnings=("stale-trust-bundle",))
    short = claims(expires_at=T0 + DAY)
    v.add("11", "expired-short", "a one-day card two days later", text_of(short), "expired",
          "expired", claims=short, time=T0 + 2 * DAY)


def _bundle_cases(v: Vectors) -> None:
    ref = claims()
    good = text_of(ref)
    v.add("bundle", "stale-bundle", "a bundle 31 days old still verifies, with a warning",
          good, "valid", "ok", claims=ref, warnings=("stale-trust-bundle",), bundle="stale",
          time=T0)
    revoked = claims(status_index=REVOKED_INDEX)
    v.add("bundle", "stale-bundle-revoked", "a stale bundle still revokes",
          text_of(revoked), "revoked", "revoked", claims=revoked,
          warnings=("stale-trust-bundle",), bundle="stale")
    v.add("bundle", "fresh-bundle-30-days", "a bundle exactly 30 days old is not stale",
          good, "valid", "ok", claims=ref, bundle="age-30-days")
    v.add("bundle", "newer-version-accepted", "version 10 with a floor of 10",
          good, "valid", "ok", claims=ref, min_version=10)
    v.add("bundle", "empty-bundle", "a bundle with no keys: every card is unknown",
          good, "unknown-issuer", "unknown-kid", bundle="no-keys")
    v.refuse_bundle("rollback", "version 10 after version 11 was accepted", "default",
                    "bundle-rollback", min_version=11)
    v.refuse_bundle("rollback-older-file", "the older bundle (version 9) with a floor of 10",
                    "older", "bundle-rollback", min_version=10)
    v.refuse_bundle("forged", "signed by another root key", "forged", "bad-bundle-signature")
    v.refuse_bundle("other-pinned-root", "the right bundle, checked with another pinned root",
                    "default", "bad-bundle-signature", root="forger-root")
    v.refuse_bundle("tampered-payload", "a payload changed after signing", "tampered",
                    "bad-bundle-signature")
    v.refuse_bundle("alg-none", "alg none, no signature", "alg-none", "bad-bundle-signature")
    v.refuse_bundle("alg-hs256", "HS256 keyed with the root's public JWK", "alg-hs256",
                    "bad-bundle-signature")
    v.refuse_bundle("alg-es384", "alg ES384 in the header", "alg-es384",
                    "bad-bundle-signature")
    v.refuse_bundle("truncated-signature", "the JWS signature cut short", "short-sig",
                    "bad-bundle-signature")
    v.refuse_bundle("wrong-typ", "typ JWT instead of unioncard-trust+jwt", "wrong-typ",
                    "bad-bundle")
    v.refuse_bundle("missing-typ", "no typ header", "missing-typ", "bad-bundle")
    v.refuse_bundle("from-future", "issued in 2100", "from-future", "bundle-from-future")
    v.refuse_bundle("not-a-jws", "not a compact JWS", "not-a-jws", "bad-bundle")
    v.refuse_bundle("payload-not-json", "a signed payload that is not JSON", "not-json",
                    "bad-bundle")
    for name in ("unknown-member", "missing-member", "format-2", "key-unknown-member",
                 "key-missing-status", "key-bad-status", "key-bad-kid", "key-private",
                 "list-size-mismatch", "list-bad-encoding", "list-duplicate",
                 "list-bad-purpose", "list-too-small", "version-negative"):
        v.refuse_bundle(f"bad-bundle-{name}", f"bundle content: {name}", name, "bad-bundle")


def _bundles(v: Vectors) -> None:
    b = v.bundles
    b["default"] = bundle_text()
    b["older"] = bundle_text(version=9)
    b["stale"] = bundle_text(iat=T0 - 31 * DAY)
    b["age-30-days"] = bundle_text(iat=T0 - 30 * DAY)
    b["no-keys"] = bundle_text(keys=())
    b["list-max-id"] = bundle_text(status_lists=lists() + lists(2**32 - 1))
    large = (StatusList(1, "revocation", 262_144), StatusList(1, "suspension", 262_144))
    b["large-lists"] = bundle_text(status_lists=large)
    b["forged"] = bundle_text(root=FORGER_ROOT)
    signed = b["default"].split(".")
    tampered = json.loads(base64.urlsafe_b64decode(signed[1] + "=" * (-len(signed[1]) % 4)))
    tampered["version"] = 99
    b["tampered"] = ".".join([signed[0], b64url(json.dumps(
        tampered, separators=(",", ":"), sort_keys=True).encode()), signed[2]])
    body = json.dumps(bundle_payload(), separators=(",", ":"), sort_keys=True).encode()
    b["alg-none"] = jws({"alg": "none", "typ": "unioncard-trust+jwt"}, body, None,
                        signature=b"")
    secret = json.dumps(ROOT.public_jwk(), separators=(",", ":"), sort_keys=True).encode()
    header = {"alg": "HS256", "typ": "unioncard-trust+jwt", "kid": ROOT.kid}
    unsigned = jws(header, body, None, signature=b"").rsplit(".", 1)[0]
    b["alg-hs256"] = unsigned + "." + b64url(
        hmac.new(secret, unsigned.encode(), hashlib.sha256).digest())
    b["alg-es384"] = bundle_text(header={"alg": "ES384", "typ": "unioncard-trust+jwt",
                                         "kid": ROOT.kid})
    b["short-sig"] = b["default"][:-2]  # 63 bytes of signature, still valid base64url
    b["wrong-typ"] = bundle_text(header={"alg": "ES256", "typ": "JWT", "kid": ROOT.kid})
    b["missing-typ"] = bundle_text(header={"alg": "ES256", "kid": ROOT.kid})
    b["from-future"] = bundle_text(iat=FUTURE)
    b["not-a-jws"] = "this is not a JWS"
    b["not-json"] = bundle_text(b"not json")

    def broken(change: Callable[[dict[str, Any]], None]) -> str:
        payload = bundle_payload()
        change(payload)
        return bundle_text(payload)

    b["unknown-member"] = broken(lambda p: p.update(extra=1))
    b["missing-member"] = broken(lambda p: p.pop("statusLists"))
    b["format-2"] = broken(lambda p: p.update(format=2))
    b["key-unknown-member"] = broken(lambda p: p["keys"][0].update(x5c=[]))
    b["key-missing-status"] = broken(lambda p: p["keys"][0].pop("status"))
    b["key-bad-status"] = broken(lambda p: p["keys"][0].update(status="paused"))
    b["key-bad-kid"] = broken(lambda p: p["keys"][0].update(kid=NATIONAL.kid))
    b["key-private"] = broken(lambda p: p["keys"][0].update(d=b64url(b"\x01" * 32)))
    b["list-size-mismatch"] = broken(lambda p: p["statusLists"][0].update(size=262_144))
    b["list-bad-encoding"] = broken(lambda p: p["statusLists"][0].update(encodedList="zAAAA"))
    b["list-duplicate"] = broken(lambda p: p["statusLists"].append(p["statusLists"][0]))
    b["list-bad-purpose"] = broken(lambda p: p["statusLists"][0].update(purpose="message"))
    small_encoded = "u" + b64url(gzip.compress(bytes(1024), 9, mtime=0))  # 8,192 entries
    b["list-too-small"] = broken(lambda p: p["statusLists"][0].update(
        encodedList=small_encoded, size=8192))
    b["version-negative"] = broken(lambda p: p.update(version=-1))


# --- the decisions of issue 23 (docs/uc1.md: every case decided) ---------------------------


def _unusable_roots() -> dict[str, str]:
    """Pinned root keys that are not a P-256 public JWK (§5: bad-root-key)."""
    p384 = ec.derive_private_key(0x5EC0_0005, ec.SECP384R1()).public_key().public_numbers()
    private = dict(FORGER_ROOT.public_jwk())
    private["d"] = b64url(FORGER_ROOT.private_key.private_numbers().private_value
                          .to_bytes(32, "big"))
    off_curve = dict(ROOT.public_jwk())
    del off_curve["kid"]
    off_curve["y"] = b64url((int.from_bytes(base64.urlsafe_b64decode(off_curve["y"] + "="),
                                            "big") ^ 1).to_bytes(32, "big"))
    return {
        "root-p384": json.dumps({"kty": "EC", "crv": "P-384",
                                 "x": b64url(p384.x.to_bytes(48, "big")),
                                 "y": b64url(p384.y.to_bytes(48, "big"))}, indent=2),
        "root-private": json.dumps(private, indent=2),
        "root-off-curve": json.dumps(off_curve, indent=2),
        "root-not-json": "this is not a key",
    }


def _decision_bundles(v: Vectors) -> None:
    b = v.bundles
    revocation, suspension = lists()
    b["revocation-only"] = bundle_text(status_lists=(revocation,))
    b["suspension-only"] = bundle_text(status_lists=(suspension,))
    body = json.dumps(bundle_payload(), separators=(",", ":"), sort_keys=True)

    def typed(typ: Any) -> str:
        return bundle_text(header={"alg": "ES256", "typ": typ, "kid": ROOT.kid})

    for name, typ in (("typ-full", "application/unioncard-trust+jwt"),
                      ("typ-upper", "UNIONCARD-TRUST+JWT"),
                      ("typ-full-mixed", "Application/UnionCard-Trust+JWT"),
                      ("typ-x-prefix", "application/x-unioncard-trust+jwt"),
                      ("typ-parameter", "unioncard-trust+jwt; charset=utf-8"),
                      ("typ-text", "text/unioncard-trust+jwt"),
                      ("typ-number", 1)):
        b[name] = typed(typ)
    for name, text in (
            ("format-true", body.replace('"format":1,', '"format":true,')),
            ("format-float", body.replace('"format":1,', '"format":1.0,')),
            ("version-float", body.replace('"version":10}', '"version":10.0}')),
            ("iat-exponent", body.replace(f'"iat":{T0},', f'"iat":{T0 / 1e9}e9,')),
            ("duplicate-member", body.replace('"version":10}', '"version":9,"version":10}')),
            ("bom", "\ufeff" + body),
            ("version-2-53", body.replace('"version":10}', f'"version":{2**53}}}')),
            ("iat-nan", body.replace(f'"iat":{T0},', '"iat":NaN,')),
            ("pretty", json.dumps(bundle_payload(), indent=2, sort_keys=False))):
        if text == body:
            raise ValueError(f"{name}: nothing replaced")
        b[name] = bundle_text(text.encode("utf-8"))
    b["signed-by-issuer-key"] = bundle_text(root=KEY)
    header = (f'{{"alg":"ES256","kid":"{ROOT.kid}","typ":"JWT","typ":"unioncard-trust+jwt"}}'
              .encode())
    signing_input = f"{b64url(header)}.{b64url(body.encode())}"
    b["header-duplicate-typ"] = signing_input + "." + b64url(
        sign_raw(ROOT.private_key, signing_input.encode("ascii")))


def _decision_cases(v: Vectors) -> None:
    """One or more cases for each question of issue 23 that docs/uc1.md now decides."""
    _decision_bundles(v)
    invalid = "invalid"
    ref = claims()
    good = text_of(ref)
    base = claims_map()
    # §1 step 1: a valid base45 text never ends in a space, so trimming would accept a second
    # text for one card; a trailing space is bad-base45
    v.add("3", "bad-base45-trailing-space", "one space after a valid card (§1 step 1: a base45 "
          "text never ends in a space; verifiers do not trim)", good + " ", invalid,
          "bad-base45")
    v.add("3", "bad-base45-trailing-spaces-4096", "a valid card and spaces up to 4096 characters",
          good + " " * (4096 - len(good)), invalid, "bad-base45")
    # §1 step 5: nesting depth counts arrays, maps and tags; deterministic = RFC 8949 §4.2.1
    v.add("6", "bad-header-unprotected-depth-16", "16 arrays, maps and tags nested (tag 18, "
          "the array, the unprotected map and 13 arrays): well-formed, then a non-empty "
          "unprotected header", text_of(ref, unprotected=b"\xa1\x01" + b"\x81" * 13 + b"\x00"),
          invalid, "bad-header")
    v.add("5", "bad-cose-unprotected-depth-17", "17 nested (one array more than above)",
          text_of(ref, unprotected=b"\xa1\x01" + b"\x81" * 14 + b"\x00"), invalid, "bad-cose")
    v.add("5", "bad-cose-unprotected-keys-length-first", "unprotected {-1: 0, 24: 0} in RFC 7049 "
          "length-first order (20 before 18 18): not RFC 8949 §4.2.1 bytewise order",
          text_of(ref, unprotected=b"\xa2\x20\x00\x18\x18\x00"), invalid, "bad-cose")
    v.add("6", "bad-header-unprotected-keys-bytewise", "unprotected {24: 0, -1: 0} in bytewise "
          "order: deterministic, then not empty", text_of(ref, unprotected=b"\xa2\x18\x18\x00\x20"
                                                           b"\x00"), invalid, "bad-header")
    v.add("5", "bad-cose-unprotected-float-long", "unprotected {99: 1.5} as a float32 (fa): "
          "a float16 holds it", text_of(ref, unprotected=b"\xa1\x18\x63\xfa\x3f\xc0\x00\x00"),
          invalid, "bad-cose")
    v.add("6", "bad-header-unprotected-float-short", "unprotected {99: 1.5} as a float16 (f9)",
          text_of(ref, unprotected=b"\xa1\x18\x63\xf9\x3e\x00"), invalid, "bad-header")
    v.add("6", "bad-header-unprotected-tag-1-text", "unprotected {99: 1(\"abc\")}: a tag whose "
          "content its meaning forbids is still well-formed (RFC 8949 §3)",
          text_of(ref, unprotected=b"\xa1\x18\x63\xc1\x63abc"), invalid, "bad-header")

    def nested(depth: int) -> Any:
        value: Any = "A"
        for _ in range(depth):
            value = [value]
        return value

    v.add("8", "bad-claims-depth-16", "an allergy of 13 nested arrays: map, core, allergies "
          "and 13 arrays are 16 levels, well-formed, then not a text",
          text_of(claims_map(km10=[None, [nested(13)], []])), invalid, "bad-claims")
    v.add("8", "bad-cbor-depth-17", "an allergy of 14 nested arrays: 17 levels",
          text_of(claims_map(km10=[None, [nested(14)], []])), invalid, "bad-cbor")
    # §1 step 8.2: tags are bad-claims (never bad-cbor, whatever their content)
    for id, description, change in (
            ("iat-tag-1-text", "iat as tag 1 around a text (content the tag forbids)",
             {"k6": cbor2.CBORTag(1, "abc")}),
            ("exp-bignum-text", "exp as tag 2 around a text", {"k4": cbor2.CBORTag(2, "x")}),
            ("name-tag-unknown", "the name in tag 99999 (no meaning)",
             {"km4": cbor2.CBORTag(99999, "Nguyễn Thị Kim Yến")}),
            ("birth-tag-0-garbage", "the birth date as tag 0 around a text that is no date",
             {"km5": cbor2.CBORTag(0, "yesterday")})):
        v.add("8", f"bad-claims-{id}", description, text_of(claims_map(**change)), invalid,
              "bad-claims")
    v.add("8", "bad-claims-self-describe", "the claims map in tag 55799 (self-described CBOR)",
          text_of(b"\xd9\xd9\xf7" + cbor2.dumps(base)), invalid, "bad-claims")
    # §1 step 8.2: the version before the other claims
    for id, description, change in (
            ("2-unknown-claim", "version 2 with a claim -11 unknown to version 1: bad-version, "
             "not bad-claims", {"km1": 2, "km11": 1}),
            ("2-bad-name", "version 2 with an empty name", {"km1": 2, "km4": ""}),
            ("2-tagged-claim", "version 2 with a tag in the birth date",
             {"km1": 2, "km5": cbor2.CBORTag(100, 8832)}),
            ("float", "version 1.0 (a float)", {"km1": 1.0}),
            ("true", "version true", {"km1": True}),
            ("bignum", "version 1 as a bignum (tag 2, h'01')", {"km1": cbor2.CBORTag(2, b"\x01")})):
        v.add("8", f"bad-version-{id}", description, text_of(claims_map(**change)), invalid,
              "bad-version")
    missing = {k: val for k, val in base.items() if k != -1}
    missing[-11] = 1
    v.add("8", "bad-claims-missing-version-unknown-claim", "no version and an unknown claim: "
          "not a UC1 claims map", text_of(missing), invalid, "bad-claims")
    encoded = cbor2.dumps(base)
    twice = encoded[:1].replace(b"\xac", b"\xad") + encoded[1:] + b"\x20\x02"
    v.add("8", "bad-claims-version-twice", "version 1, then version 2 again: a key twice is "
          "bad-claims before the version is read", text_of(twice), invalid, "bad-claims")
    # §3: allergies, like names, have no surrounding spaces
    v.add("8", "bad-claims-allergy-leading-space", "an allergy with a leading space",
          text_of(claims_map(km10=[None, [" Tôm"], []])), invalid, "bad-claims")
    v.add("8", "bad-claims-allergy-trailing-space", "an allergy with a trailing space",
          text_of(claims_map(km10=[None, ["Tôm "], []])), invalid, "bad-claims")
    inner = claims(emergency=EmergencyCore(allergies=("Đậu  phộng rang",)))
    v.add("12", "valid-allergy-inner-spaces", "an allergy with inner spaces (two together)",
          text_of(inner), "valid", "ok", claims=inner)
    # §3: any two digits are a province code (no list of provinces)
    for code in ("00", "99"):
        c = claims(province_code=code)
        v.add("12", f"valid-province-{code}", f"province code {code}: any two digits",
              text_of(c), "valid", "ok", claims=c)
    v.add("8", "bad-claims-province-fullwidth", "province in full-width digits (not [0-9])",
          text_of(claims_map(km7="７９")), invalid, "bad-claims")
    # §3: the birth date's upper bound is the issue date and 9999-12-31
    for id, born in (("2243", date(2243, 10, 17)), ("9999-12-31", date(9999, 12, 31))):
        c = claims(birth_date=born, issued_at=2**52, expires_at=2**53 - 1)
        v.add("11", f"not-yet-valid-birth-{id}", f"issued at 2^52 s, born {born.isoformat()}: "
              "valid claims (not yet valid)", text_of(c), "not-yet-valid", "not-yet-valid",
              claims=c)
    v.add("8", "bad-claims-birth-after-9999", "issued at 2^52 s, born on day 2,932,897 "
          "(10000-01-01): beyond a four-digit year", text_of(claims_map(
              k6=2**52, k4=2**53 - 1, km5=2_932_897)), invalid, "bad-claims")
    # §5: a stale bundle warns on every result, invalid ones too
    stale = ("stale-trust-bundle",)
    v.add("bundle", "stale-bundle-bad-signature", "an invalid card against a stale bundle: "
          "invalid, with the warning", text_of(ref.to_cbor(), signature=bytes(64)), invalid,
          "bad-signature", warnings=stale, bundle="stale")
    v.add("bundle", "stale-bundle-unknown-kid", "an unknown key against a stale bundle",
          text_of(ref, key=OTHER), "unknown-issuer", "unknown-kid", warnings=stale,
          bundle="stale")
    v.add("bundle", "stale-bundle-bad-prefix", "not a card at all, against a stale bundle",
          "HC1:" + good[4:], invalid, "bad-prefix", warnings=stale, bundle="stale")
    # §1 step 10: a missing list warns whatever the other list says
    missing_warning = ("status-list-missing",)
    suspended = claims(status_index=SUSPENDED_INDEX)
    v.add("10", "suspended-revocation-list-missing", "suspended, and the bundle has no "
          "revocation list 1: suspended with the warning", text_of(suspended), "suspended",
          "suspended", claims=suspended, warnings=missing_warning, bundle="suspension-only")
    revoked = claims(status_index=REVOKED_INDEX)
    v.add("10", "revoked-suspension-list-missing", "revoked, and no suspension list 1",
          text_of(revoked), "revoked", "revoked", claims=revoked, warnings=missing_warning,
          bundle="revocation-only")
    v.add("10", "bad-status-index-list-missing", "an index beyond the one list carried",
          text_of(claims(status_index=131072)), invalid, "bad-status-index",
          warnings=missing_warning, bundle="revocation-only")
    v.add("10", "valid-suspension-list-missing", "a clear bit in the one list carried",
          text_of(ref), "valid", "ok", claims=ref, warnings=missing_warning,
          bundle="revocation-only")
    other = claims(status_list_id=2)
    v.add("9", "key-compromise-list-missing", "a revoked key, no list 2: step 10 is never "
          "reached, no status-list-missing", text_of(other, key=COMPROMISED), "revoked",
          "key-compromise", claims=other)
    # §6: a list id names one list whatever the issuer
    national = claims(issuer="VN-VGCL", status_index=REVOKED_INDEX)
    v.add("10", "revoked-other-issuer-same-list", "a VN-VGCL card at a revoked index of list 1: "
          "lists are keyed by id alone, for every issuer", text_of(national, key=NATIONAL),
          "revoked", "revoked", claims=national)
    # §5: typ as RFC 7515 §4.1.9 compares it
    for name, description in (("typ-full", "typ application/unioncard-trust+jwt"),
                              ("typ-upper", "typ in capitals"),
                              ("typ-full-mixed", "typ Application/UnionCard-Trust+JWT")):
        v.add("bundle", f"bundle-{name}", f"{description}: the same media type", good, "valid",
              "ok", claims=ref, bundle=name)
    for name, description in (("typ-x-prefix", "typ application/x-unioncard-trust+jwt"),
                              ("typ-parameter", "typ with a media type parameter"),
                              ("typ-text", "typ text/unioncard-trust+jwt"),
                              ("typ-number", "typ as a number")):
        v.refuse_bundle(f"bad-bundle-{name}", description, name, "bad-bundle")
    # §5: the payload's JSON, strictly
    for name, description in (("format-true", '"format": true'),
                              ("format-float", '"format": 1.0'),
                              ("version-float", '"version": 10.0'),
                              ("iat-exponent", "iat with an exponent (1.761984e9)"),
                              ("duplicate-member", "version twice (9, then 10)"),
                              ("bom", "a byte-order mark before the payload"),
                              ("version-2-53", "version 2^53"),
                              ("iat-nan", "iat NaN")):
        v.refuse_bundle(f"bad-bundle-{name}", f"bundle payload: {description}", name,
                        "bad-bundle")
    v.refuse_bundle("bad-bundle-header-duplicate-typ", "typ twice in the JWS header (JWT, then "
                    "unioncard-trust+jwt): refused, not read last-wins", "header-duplicate-typ",
                    "bad-bundle")
    v.add("bundle", "bundle-pretty-json", "a payload with whitespace and members in another "
          "order: JSON, however laid out", good, "valid", "ok", claims=ref, bundle="pretty")
    # §5: the pinned root key
    v.refuse_bundle("signed-by-issuer-key", "signed by an issuer key the bundle carries, not "
                    "the pinned root", "signed-by-issuer-key", "bad-bundle-signature")
    for name, description in (("root-p384", "a P-384 key"),
                              ("root-private", "a private JWK (with d)"),
                              ("root-off-curve", "a point not on P-256"),
                              ("root-not-json", "not JSON")):
        v.refuse_bundle(f"bad-root-key-{name[5:]}", f"the pinned root key is {description}",
                        "default", "bad-root-key", root=name)


def build() -> dict[str, bytes]:
    """Every file of docs/vectors/ except README.md: relative path -> content."""
    v = Vectors()
    _bundles(v)
    _valid_cases(v)
    _layer_cases(v)
    _cose_cases(v)
    _signature_cases(v)
    _claims_cases(v)
    _status_cases(v)
    _bundle_cases(v)
    _decision_cases(v)
    ids = [c.id for c in v.cases]
    duplicates = {i for i in ids if ids.count(i) > 1}
    if duplicates:
        raise ValueError(f"duplicate case ids: {sorted(duplicates)}")
    files = {f"bundles/{name}.jws": (text + "\n").encode("ascii")
             for name, text in v.bundles.items()}
    for name, key in (("root", ROOT), ("forger-root", FORGER_ROOT)):
        files[f"keys/{name}.jwk"] = (json.dumps(key.public_jwk(), indent=2) + "\n").encode()
    for name, text in _unusable_roots().items():
        files[f"keys/{name}.jwk"] = (text + "\n").encode()
    document = {"format": "unioncard UC1 conformance vectors", "version": 1,
                "spec": "docs/uc1.md", "count": len(v.cases),
                "cases": [c.to_json() for c in v.cases]}
    files["cases.json"] = (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode()
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed files instead of writing")
    args = parser.parse_args(argv)
    files = build()
    if args.check:
        stale = [p for p, data in files.items() if not (OUT / p).exists()
                 or (OUT / p).read_bytes() != data]
        for path in stale:
            print(f"differs: docs/vectors/{path}")
        return 1 if stale else 0
    for path, data in files.items():
        (OUT / path).parent.mkdir(parents=True, exist_ok=True)
        (OUT / path).write_bytes(data)
    count = json.loads(files["cases.json"])["count"]
    print(f"wrote {len(files)} files, {count} cases, to {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
