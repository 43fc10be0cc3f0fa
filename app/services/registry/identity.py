"""Vietnamese identity rules: names, personal ID (CCCD), social-insurance number, phone, dates."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from app.services.csv_out import starts_like_a_formula

# Birth-province codes (first 3 digits of a CCCD): the 63 provinces before the 2025 merger,
# which stay valid on every card issued with them.
CCCD_PROVINCE_CODES = frozenset("""
001 002 004 006 008 010 011 012 014 015 017 019 020 022 024 025 026 027 030 031 033 034 035 036
037 038 040 042 044 045 046 048 049 051 052 054 056 058 060 062 064 066 067 068 070 072 074 075
077 079 080 082 083 084 086 087 089 091 092 093 094 095 096
""".split())

MIN_AGE, MAX_AGE = 15, 100
_SPACES = re.compile(r"\s+")
_PHONE_SEPARATORS = re.compile(r"[\s.\-()]")
_MOBILE = re.compile(r"^0[35789]\d{8}$")


@dataclass(frozen=True)
class FieldProblem:
    """A field that is invalid (``error``) or merely suspicious (``warning``)."""

    field: str
    message: str
    severity: str = "error"


class InvalidField(ValueError):
    """One field's value is invalid."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def normalize_name(raw: str, field: str = "full_name") -> str:
    """NFC-normalise, trim and collapse inner spaces.

    Raises:
        InvalidField: empty, too long, containing digits or control characters, or beginning
            like a spreadsheet formula (``=``, ``+``, ``-``, ``@``).
    """
    name = _SPACES.sub(" ", unicodedata.normalize("NFC", raw)).strip()
    if not name:
        raise InvalidField(field, "The name is empty.")
    if starts_like_a_formula(name):
        raise InvalidField(field, "The name may not begin with =, +, - or @: a spreadsheet "
                                  "would read it as a formula.")
    if len(name) > 200:
        raise InvalidField(field, "The name is longer than 200 characters.")
    if any(ch.isdigit() or unicodedata.category(ch).startswith("C") for ch in name):
        raise InvalidField(field, "The name contains digits or control characters.")
    return name


def transliterate(text: str) -> str:
    """ASCII upper-case form for search and matching: "Nguyễn Thị Đào" -> "NGUYEN THI DAO"."""
    text = text.replace("đ", "d").replace("Đ", "D")
    stripped = "".join(ch for ch in unicodedata.normalize("NFD", text)
                       if not unicodedata.combining(ch))
    ascii_text = stripped.encode("ascii", "ignore").decode("ascii")
    return _SPACES.sub(" ", ascii_text).strip().upper()


def parse_sex(raw: str) -> str:
    """``M`` or ``F`` from M/F, Nam/Nữ, male/female (any case).

    Raises:
        InvalidField: anything else.
    """
    value = transliterate(raw)
    if value in ("M", "NAM", "MALE"):
        return "M"
    if value in ("F", "NU", "FEMALE"):
        return "F"
    raise InvalidField("sex", "Sex must be M or F (Nam or Nữ).")


def age_on(birth: date, today: date) -> int:
    """Whole years between ``birth`` and ``today``."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def check_birth_date(birth: date, today: date) -> date:
    """A member must be 15 to 100 years old.

    Raises:
        InvalidField: outside that range.
    """
    age = age_on(birth, today)
    if birth > today:
        raise InvalidField("birth_date", "The birth date is in the future.")
    if age < MIN_AGE:
        raise InvalidField("birth_date", f"The member must be at least {MIN_AGE} (age {age}).")
    if age > MAX_AGE:
        raise InvalidField("birth_date", f"The member cannot be older than {MAX_AGE} (age {age}).")
    return birth


def check_join_date(joined: date, birth: date | None, today: date) -> date:
    """The join date is not in the future and not before the birth date.

    Raises:
        InvalidField: it is.
    """
    if joined > today:
        raise InvalidField("join_date", "The join date is in the future.")
    if birth is not None and joined < birth:
        raise InvalidField("join_date", "The join date is before the birth date.")
    return joined


def cccd_century_digit(birth: date, sex: str) -> str:
    """The 4th CCCD digit: century (20th = 0/1, 21st = 2/3, ...) and sex (even male, odd female)."""
    century_index = (birth.year - 1900) // 100
    if not 0 <= century_index <= 4:
        raise InvalidField("personal_id", "Birth year outside 1900-2399.")
    return str(century_index * 2 + (1 if sex == "F" else 0))


def check_personal_id(raw: str, birth: date | None, sex: str | None) -> tuple[str, list[FieldProblem]]:
    """Validate a CCCD against the birth date and sex; return it with any warnings.

    Raises:
        InvalidField: not 12 digits, or the century/sex digit or year disagrees.
    """
    value = re.sub(r"[\s.\-]", "", raw)
    if not re.fullmatch(r"\d{12}", value):
        raise InvalidField("personal_id", "The personal ID (CCCD) must be exactly 12 digits.")
    warnings: list[FieldProblem] = []
    if value[:3] not in CCCD_PROVINCE_CODES:
        warnings.append(FieldProblem(
            "personal_id", f"Unknown birth-province code {value[:3]} in the personal ID.",
            "warning"))
    if birth is not None and sex in ("M", "F"):
        expected = cccd_century_digit(birth, sex)
        if value[3] != expected:
            raise InvalidField("personal_id", (
                f"Digit 4 of the personal ID is {value[3]} but a "
                f"{'woman' if sex == 'F' else 'man'} born in {birth.year} needs {expected}."))
        if value[4:6] != f"{birth.year % 100:02d}":
            raise InvalidField("personal_id", (
                f"Digits 5-6 of the personal ID are {value[4:6]} but the birth year is "
                f"{birth.year}."))
    return value, warnings


def check_insurance_number(raw: str) -> str:
    """The social-insurance / health ID (mã số BHXH): 10 digits.

    Raises:
        InvalidField: anything else.
    """
    value = re.sub(r"[\s.\-]", "", raw)
    if not re.fullmatch(r"\d{10}", value):
        raise InvalidField("insurance_number",
                           "The social-insurance number (mã số BHXH) must be exactly 10 digits.")
    return value


def normalize_phone(raw: str) -> str:
    """A Vietnamese mobile number (0xxxxxxxxx, 84xxxxxxxxx or +84xxxxxxxxx) in E.164 form.

    Raises:
        InvalidField: not a Vietnamese mobile number.
    """
    value = _PHONE_SEPARATORS.sub("", raw)
    if value.startswith("+84"):
        value = "0" + value[3:]
    elif value.startswith("84") and len(value) == 11:
        value = "0" + value[2:]
    if not _MOBILE.match(value):
        raise InvalidField("phone", "The phone must be a Vietnamese mobile number "
                                    "(0xxxxxxxxx or +84xxxxxxxxx, prefixes 03, 05, 07, 08, 09).")
    return "+84" + value[1:]


_DATE_FORMATS = (re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$"), re.compile(r"^(\d{4})-(\d{2})-(\d{2})$"))


def parse_date(raw: str, field: str) -> date:
    """A date as dd/mm/yyyy (as Vietnamese offices write it) or ISO yyyy-mm-dd.

    Raises:
        InvalidField: another format or an impossible date.
    """
    text = raw.strip()
    dmy = _DATE_FORMATS[0].match(text)
    iso = _DATE_FORMATS[1].match(text)
    try:
        if dmy:
            return date(int(dmy[3]), int(dmy[2]), int(dmy[1]))
        if iso:
            return date(int(iso[1]), int(iso[2]), int(iso[3]))
    except ValueError:
        raise InvalidField(field, f"{text!r} is not a real date.") from None
    raise InvalidField(field, f"{text!r} is not a date (use dd/mm/yyyy or yyyy-mm-dd).")
