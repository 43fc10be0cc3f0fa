"""The UC1 card claims: frozen value objects, their invariants and their CBOR map form."""

from __future__ import annotations

import base64
import re
import secrets
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import cbor2

from cards.errors import ClaimsError, MalformedCard

#: The only UC1 format version this library reads and writes.
FORMAT_VERSION = 1

# CBOR map keys. 1, 4, 6 are the registered CWT claims (RFC 8392); the rest are private-use
# negative keys (RFC 8392 §4: keys < -65536 are private; UC1 is a closed format identified by
# its prefix, so the short negative keys below are UC1's own, fixed by docs/uc1.md).
KEY_ISS = 1
KEY_EXP = 4
KEY_IAT = 6
KEY_VERSION = -1
KEY_SERIAL = -2
KEY_MEMBER = -3
KEY_NAME = -4
KEY_BIRTH = -5
KEY_UNION = -6
KEY_PROVINCE = -7
KEY_LIST_ID = -8
KEY_LIST_INDEX = -9
KEY_EMERGENCY = -10
_REQUIRED_KEYS = frozenset(
    {
        KEY_ISS,
        KEY_EXP,
        KEY_IAT,
        KEY_VERSION,
        KEY_SERIAL,
        KEY_MEMBER,
        KEY_NAME,
        KEY_BIRTH,
        KEY_UNION,
        KEY_PROVINCE,
        KEY_LIST_ID,
        KEY_LIST_INDEX,
    }
)
_ALL_KEYS = _REQUIRED_KEYS | {KEY_EMERGENCY}
#: Claim keys in deterministic CBOR order (RFC 8949 §4.2.1: bytewise; every key is one byte,
#: so this is also the length-first order of §4.2.3).
CANONICAL_KEY_ORDER = (KEY_ISS, KEY_EXP, KEY_IAT) + tuple(range(-1, -11, -1))

SERIAL_BYTES = 10
BLOOD_GROUPS = frozenset({"O+", "O-", "A+", "A-", "B+", "B-", "AB+", "AB-"})
MAX_EMERGENCY_ITEMS = 3
MAX_ALLERGY_CHARS = 32
MAX_NAME_CHARS = 80
_EPOCH = date(1970, 1, 1)
_MIN_BIRTH = date(1900, 1, 1)
_UINT32 = 2**32
_MIN_DAY = (_MIN_BIRTH - _EPOCH).days
_EPOCH_ORDINAL = _EPOCH.toordinal()
_MAX_DAY = (date.max - _EPOCH).days
_ARRAYS = (list, tuple)  # what a CBOR decoder gives for an array
_ABSENT = object()
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_B32_PAIRS = [a + b for a in _B32 for b in _B32]  # every 10-bit value as two characters
#: The issue date is the date of ``issued_at`` in Vietnam (UTC+07:00 all year, no DST since
#: 1975), the date printed on the card face.
ISSUE_DATE_OFFSET_SECONDS = 7 * 3600
_ISSUER = re.compile(r"[A-Z]{2}(-[A-Z0-9]{1,12}){1,3}")
_SERIAL = re.compile(r"[A-Z2-7]{16}")
_CODE = re.compile(r"[0-9A-Z][0-9A-Z./-]{0,23}")
_PROVINCE = re.compile(r"[0-9]{2}")
#: issuer, serial, member number, union code and province code, joined by U+001F.
_CODES = re.compile("\x1f".join(p.pattern for p in (_ISSUER, _SERIAL, _CODE, _CODE, _PROVINCE)))
# ICD-10: a letter (U is reserved but valid for e.g. U07.1), two characters, optional subcode.
_ICD10 = re.compile(r"[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?")


def issue_date(issued_at: int) -> date:
    """The calendar date of ``issued_at`` (epoch seconds) in Vietnam (UTC+07:00)."""
    day = (issued_at + ISSUE_DATE_OFFSET_SECONDS) // 86400
    # issued_at may be up to 2^53 s, far past year 9999: every birth date is before that
    return date.max if day > _MAX_DAY else date.fromordinal(_EPOCH_ORDINAL + day)


def serial_text(serial: bytes) -> str:
    """A 10-byte serial as its 16 RFC 4648 base32 characters (as ``base64.b32encode``)."""
    value = int.from_bytes(serial, "big")
    return "".join([_B32_PAIRS[(value >> shift) & 0x3FF] for shift in range(70, -1, -10)])


def new_serial() -> str:
    """Return a fresh random card serial: 10 random bytes as 16 base32 characters."""
    return base64.b32encode(secrets.token_bytes(SERIAL_BYTES)).decode("ascii")


def _check_version(version: object) -> int:
    """The version claim, which MUST be the untagged unsigned integer 1 (not 1.0, not True,
    not a bignum): else ``bad-version``."""
    if type(version) is not int or version != FORMAT_VERSION:
        raise MalformedCard(f"unsupported format version {version!r}", reason="bad-version")
    return version


def _fail(message: str) -> ClaimsError:
    return ClaimsError(message)


def _is_text(value: object, max_chars: int) -> bool:
    """Whether ``value`` is 1 to ``max_chars`` printable NFC characters without surrounding
    spaces (docs/uc1.md §3)."""
    # isprintable() rejects control, format, private-use, unassigned and non-ASCII spaces.
    return (type(value) is str and 0 < len(value) <= max_chars
            and unicodedata.is_normalized("NFC", value) and value.isprintable()
            and value[0] != " " and value[-1] != " ")


def _text(value: object, field: str, max_chars: int) -> str:
    if not isinstance(value, str) or not value or len(value) > max_chars:
        raise _fail(f"{field} must be a non-empty string of at most {max_chars} characters")
    if not unicodedata.is_normalized("NFC", value):
        raise _fail(f"{field} must be NFC-normalised")
    # isprintable() rejects control, format, private-use, unassigned and non-ASCII spaces.
    if value != value.strip() or not value.isprintable():
        raise _fail(f"{field} has control characters or surrounding spaces")
    return value


def _pattern(value: object, field: str, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise _fail(f"{field} has an invalid format: {value!r}")
    return value


def _uint(value: object, field: str, limit: int = 2**63) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < limit:
        raise _fail(f"{field} must be an integer in [0, {limit})")
    return value


@dataclass(frozen=True)
class EmergencyCore:
    """The emergency core a member may consent to carry on the card."""

    blood_group: str | None = None
    allergies: tuple[str, ...] = ()
    conditions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        blood, allergies, conditions = self.blood_group, self.allergies, self.conditions
        if blood is not None and (type(blood) is not str or blood not in BLOOD_GROUPS):
            raise _fail(f"blood_group must be one of {sorted(BLOOD_GROUPS)}")
        if type(allergies) is not tuple or type(conditions) is not tuple or \
                len(allergies) > MAX_EMERGENCY_ITEMS or len(conditions) > MAX_EMERGENCY_ITEMS:
            raise _fail(f"allergies and conditions must be tuples of at most "
                        f"{MAX_EMERGENCY_ITEMS} items")
        for allergy in allergies:
            if not _is_text(allergy, MAX_ALLERGY_CHARS):
                _text(allergy, "allergy", MAX_ALLERGY_CHARS)  # raises, naming the problem
        for code in conditions:
            if type(code) is not str or _ICD10.fullmatch(code) is None:
                _pattern(code, "condition (ICD-10 code)", _ICD10)
        # every item is a string by now, so the duplicate check cannot meet an unhashable one
        if len(set(allergies)) != len(allergies) or len(set(conditions)) != len(conditions):
            raise _fail("allergies and conditions must not repeat an item")
        if blood is None and not allergies and not conditions:
            raise _fail("an empty emergency core must be None instead")

    def to_cbor(self) -> list[Any]:
        """The CBOR array ``[blood group or null, [allergies], [ICD-10 codes]]``."""
        return [self.blood_group, list(self.allergies), list(self.conditions)]

    @classmethod
    def from_cbor(cls, value: Any) -> EmergencyCore:
        """Read the CBOR array form.

        Raises:
            ClaimsError: the array has the wrong shape or values.
        """
        if type(value) not in _ARRAYS or len(value) != 3:
            raise _fail("emergency core must be a 3-item array")
        blood, allergies, conditions = value
        if type(allergies) not in _ARRAYS or type(conditions) not in _ARRAYS:
            raise _fail("allergies and conditions must be arrays")
        core = object.__new__(cls)  # as CardClaims.from_cbor_map: same checks, cheaper
        core.__dict__.update(blood_group=blood, allergies=tuple(allergies),
                             conditions=tuple(conditions))
        core.__post_init__()
        return core


@dataclass(frozen=True)
class CardClaims:
    """The signed claims of a UC1 card; invariants are checked on construction."""

    issuer: str
    serial: str
    member_number: str
    name: str
    birth_date: date
    union_code: str
    province_code: str
    issued_at: int
    expires_at: int
    status_list_id: int
    status_index: int
    emergency: EmergencyCore | None = None
    version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        # Every verified card runs this: the common, valid case in a few combined checks;
        # anything else goes through the field-by-field checks, which name the problem.
        if not self._plainly_valid():
            self._check_fields()

    def _plainly_valid(self) -> bool:
        """True only when every invariant certainly holds (exact built-in types)."""
        iat, exp = self.issued_at, self.expires_at
        list_id, index, birth = self.status_list_id, self.status_index, self.birth_date
        issuer, serial, member, union = (self.issuer, self.serial, self.member_number,
                                         self.union_code)
        province = self.province_code
        return (type(self.version) is int and self.version == FORMAT_VERSION
                and type(issuer) is str and type(serial) is str and type(member) is str
                and type(union) is str and type(province) is str
                and _CODES.fullmatch(f"{issuer}\x1f{serial}\x1f{member}\x1f{union}\x1f"
                                     f"{province}") is not None
                and type(iat) is int and type(exp) is int and 0 <= iat < exp < 2**53
                and type(list_id) is int and 0 <= list_id < _UINT32
                and type(index) is int and 0 <= index < _UINT32
                and type(birth) is date and _MIN_BIRTH <= birth <= issue_date(iat)
                and (self.emergency is None or type(self.emergency) is EmergencyCore)
                and _is_text(self.name, MAX_NAME_CHARS))

    def _check_fields(self) -> None:
        """Check every field, one by one, naming the first that breaks its rule."""
        if type(self.version) is not int or self.version != FORMAT_VERSION:
            raise _fail(f"unsupported format version {self.version!r}")
        _pattern(self.issuer, "issuer", _ISSUER)
        _pattern(self.serial, "serial", _SERIAL)
        _pattern(self.member_number, "member_number", _CODE)
        _text(self.name, "name", MAX_NAME_CHARS)
        if type(self.birth_date) is not date or self.birth_date < _MIN_BIRTH:
            raise _fail("birth_date must be a datetime.date on or after 1900-01-01")
        _pattern(self.union_code, "union_code", _CODE)
        _pattern(self.province_code, "province_code", _PROVINCE)
        _uint(self.issued_at, "issued_at", 2**53)
        _uint(self.expires_at, "expires_at", 2**53)
        if self.expires_at <= self.issued_at:
            raise _fail("expires_at must be after issued_at")
        if self.birth_date > issue_date(self.issued_at):
            raise _fail("birth_date is after the issue date")
        _uint(self.status_list_id, "status_list_id", _UINT32)
        _uint(self.status_index, "status_index", _UINT32)
        if self.emergency is not None and not isinstance(self.emergency, EmergencyCore):
            raise _fail("emergency must be an EmergencyCore or None")

    def to_cbor_map(self) -> dict[int, Any]:
        """The claims as the UC1 CBOR map (integer keys; see docs/uc1.md)."""
        claims: dict[int, Any] = {
            KEY_ISS: self.issuer,
            KEY_EXP: self.expires_at,
            KEY_IAT: self.issued_at,
            KEY_VERSION: self.version,
            KEY_SERIAL: base64.b32decode(self.serial),
            KEY_MEMBER: self.member_number,
            KEY_NAME: self.name,
            KEY_BIRTH: (self.birth_date - _EPOCH).days,
            KEY_UNION: self.union_code,
            KEY_PROVINCE: self.province_code,
            KEY_LIST_ID: self.status_list_id,
            KEY_LIST_INDEX: self.status_index,
        }
        if self.emergency is not None:
            claims[KEY_EMERGENCY] = self.emergency.to_cbor()
        return claims

    def to_cbor(self) -> bytes:
        """The canonical CBOR encoding of :meth:`to_cbor_map` (the COSE payload)."""
        # to_cbor_map inserts keys in canonical order (1, 4, 6, -1 ... -10: one-byte keys,
        # bytewise ascending) and cbor2 always emits minimal integers and lengths, so plain
        # encoding equals canonical encoding at half the cost; a test pins the equality.
        return cbor2.dumps(self.to_cbor_map())

    @classmethod
    def from_cbor_map(cls, claims: Any) -> CardClaims:
        """Read the UC1 CBOR map strictly.

        Raises:
            MalformedCard: (``bad-claims``) for unknown, missing or wrongly typed keys or
                values that break an invariant.
        """
        if not isinstance(claims, dict) and not isinstance(claims, Mapping):
            raise MalformedCard("claims must be a map", reason="bad-claims")
        # §1 step 8.2: the version is read before the other keys, so that a card of another
        # version (which may carry claims this one does not know) is bad-version.
        if KEY_VERSION in claims:
            _check_version(claims[KEY_VERSION])
        keys = claims.keys()
        if not keys <= _ALL_KEYS or not _REQUIRED_KEYS <= keys:
            raise MalformedCard("unknown or missing claim keys", reason="bad-claims")
        return cls.from_keyed_map(claims)

    @classmethod
    def from_keyed_map(cls, claims: Mapping[int, Any]) -> CardClaims:
        """:meth:`from_cbor_map` for a map already known to hold every required key and no
        unknown one (the verifier's canonical fast path has checked the key order).

        Raises:
            MalformedCard: (``bad-claims`` or ``bad-version``) as :meth:`from_cbor_map`.
        """
        version = _check_version(claims[KEY_VERSION])
        serial = claims[KEY_SERIAL]
        birth = claims[KEY_BIRTH]
        try:
            if type(serial) is not bytes or len(serial) != SERIAL_BYTES:
                raise _fail("serial must be 10 bytes")
            if type(birth) is not int or not _MIN_DAY <= birth <= _MAX_DAY:
                raise _fail("birth date must be an integer day count")
            emergency = claims.get(KEY_EMERGENCY, _ABSENT)
            if emergency is None:
                raise _fail("an absent emergency core is omitted, not null")
            if emergency is _ABSENT:
                emergency = None
            # The generated __init__ only assigns (through object.__setattr__, one call per
            # field, as the class is frozen); filling __dict__ at once and running the same
            # __post_init__ checks is the same object, a scanner's hot path cheaper.
            card = object.__new__(cls)
            card.__dict__.update(
                issuer=claims[KEY_ISS],
                serial=serial_text(serial),
                member_number=claims[KEY_MEMBER],
                name=claims[KEY_NAME],
                birth_date=date.fromordinal(_EPOCH_ORDINAL + birth),
                union_code=claims[KEY_UNION],
                province_code=claims[KEY_PROVINCE],
                issued_at=claims[KEY_IAT],
                expires_at=claims[KEY_EXP],
                status_list_id=claims[KEY_LIST_ID],
                status_index=claims[KEY_LIST_INDEX],
                emergency=None if emergency is None else EmergencyCore.from_cbor(emergency),
                version=version,
            )
            card.__post_init__()
            return card
        except ClaimsError as e:
            raise MalformedCard(str(e), reason="bad-claims") from e

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (dates as ISO strings, times as epoch seconds)."""
        emergency = None
        if self.emergency is not None:
            emergency = {
                "blood_group": self.emergency.blood_group,
                "allergies": list(self.emergency.allergies),
                "conditions": list(self.emergency.conditions),
            }
        return {
            "version": self.version,
            "issuer": self.issuer,
            "serial": self.serial,
            "member_number": self.member_number,
            "name": self.name,
            "birth_date": self.birth_date.isoformat(),
            "union_code": self.union_code,
            "province_code": self.province_code,
            "issued_at": self.issued_at,
            "expires_at": self.expires_at,
            "status_list_id": self.status_list_id,
            "status_index": self.status_index,
            "emergency": emergency,
        }
