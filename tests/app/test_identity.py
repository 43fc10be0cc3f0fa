"""Each identity rule with valid and invalid examples."""

from __future__ import annotations

from datetime import date

import pytest

from app.services.registry import identity
from app.services.registry.identity import InvalidField


@pytest.mark.parametrize("raw, expected", [
    ("  Nguyễn   Thị  Kim Yến ", "Nguyễn Thị Kim Yến"),
    ("Nguye\u0302\u0303n Văn An", "Nguyễn Văn An"),  # decomposed input becomes NFC
    ("Đặng\tThùy\nDương", "Đặng Thùy Dương"),
])
def test_names_are_nfc_trimmed_and_collapsed(raw: str, expected: str) -> None:
    assert identity.normalize_name(raw) == expected


@pytest.mark.parametrize("raw", ["", "   ", "Nguyen 2nd", "Tab\x00Null", "x" * 201])
def test_bad_names_are_rejected(raw: str) -> None:
    with pytest.raises(InvalidField) as info:
        identity.normalize_name(raw)
    assert info.value.field == "full_name"


@pytest.mark.parametrize("name, ascii_form", [
    ("Nguyễn Thị Kim Yến", "NGUYEN THI KIM YEN"),
    ("Đỗ Đức Đạt", "DO DUC DAT"),
    ("Trương Thị Ưng", "TRUONG THI UNG"),
    ("nguyen thi yen", "NGUYEN THI YEN"),
])
def test_transliteration(name: str, ascii_form: str) -> None:
    assert identity.transliterate(name) == ascii_form


@pytest.mark.parametrize("raw, sex", [("M", "M"), ("nam", "M"), ("Nữ", "F"), ("NU", "F"),
                                      ("female", "F"), ("f", "F")])
def test_sex_forms(raw: str, sex: str) -> None:
    assert identity.parse_sex(raw) == sex


def test_unknown_sex_is_rejected() -> None:
    with pytest.raises(InvalidField, match="M or F"):
        identity.parse_sex("X")


@pytest.mark.parametrize("birth, sex, pid", [
    (date(1994, 3, 12), "F", "024194001234"),  # woman, 20th century -> 1
    (date(1988, 1, 1), "M", "001088123456"),   # man, 20th century -> 0
    (date(2003, 7, 9), "M", "079203000001"),   # man, 21st century -> 2
    (date(2005, 12, 31), "F", "096305999999"),  # woman, 21st century -> 3
])
def test_valid_personal_ids(birth: date, sex: str, pid: str) -> None:
    assert identity.check_personal_id(pid, birth, sex) == (pid, [])


def test_personal_id_separators_are_ignored() -> None:
    assert identity.check_personal_id("024 194 001.234", date(1994, 3, 12), "F")[0] == \
        "024194001234"


@pytest.mark.parametrize("pid, birth, sex, message", [
    ("02419400123", date(1994, 3, 12), "F", "exactly 12 digits"),
    ("02419400123A", date(1994, 3, 12), "F", "exactly 12 digits"),
    ("024094001234", date(1994, 3, 12), "F", "Digit 4 of the personal ID is 0"),  # says male
    ("024294001234", date(1994, 3, 12), "F", "needs 1"),  # says 21st century
    ("024195001234", date(1994, 3, 12), "F", "Digits 5-6"),  # wrong year
    ("079303000001", date(2003, 7, 9), "M", "needs 2"),  # says woman
])
def test_invalid_personal_ids(pid: str, birth: date, sex: str, message: str) -> None:
    with pytest.raises(InvalidField, match=message):
        identity.check_personal_id(pid, birth, sex)


def test_unknown_birth_province_is_a_warning_not_an_error() -> None:
    value, warnings = identity.check_personal_id("099194001234", date(1994, 3, 12), "F")
    assert value == "099194001234"
    assert [(w.field, w.severity) for w in warnings] == [("personal_id", "warning")]
    assert "099" in warnings[0].message


@pytest.mark.parametrize("raw, ok", [("0123456789", True), ("01 2345 6789", True),
                                     ("012345678", False), ("01234567890", False),
                                     ("01234x6789", False)])
def test_insurance_number(raw: str, ok: bool) -> None:
    if ok:
        assert identity.check_insurance_number(raw) == raw.replace(" ", "")
    else:
        with pytest.raises(InvalidField, match="10 digits"):
            identity.check_insurance_number(raw)


@pytest.mark.parametrize("raw, normalised", [
    ("0912345678", "+84912345678"), ("+84 912 345 678", "+84912345678"),
    ("84912345678", "+84912345678"), ("091-234-5678", "+84912345678"),
    ("(+84) 38.123.4567", "+84381234567"), ("0701234567", "+84701234567"),
])
def test_phone_normalisation(raw: str, normalised: str) -> None:
    assert identity.normalize_phone(raw) == normalised


@pytest.mark.parametrize("raw", ["0212345678", "091234567", "09123456789", "+1 202 555 0100",
                                 "02438251234", "phone"])
def test_bad_phones(raw: str) -> None:
    with pytest.raises(InvalidField, match="Vietnamese mobile"):
        identity.normalize_phone(raw)


TODAY = date(2026, 11, 25)


@pytest.mark.parametrize("birth, ok", [
    (date(2011, 11, 25), True),   # 15 today
    (date(2011, 11, 26), False),  # 15 tomorrow
    (date(1926, 11, 26), True),   # 99
    (date(1925, 11, 24), False),  # 101
    (date(2030, 1, 1), False),
])
def test_age_limits(birth: date, ok: bool) -> None:
    if ok:
        assert identity.check_birth_date(birth, TODAY) == birth
    else:
        with pytest.raises(InvalidField):
            identity.check_birth_date(birth, TODAY)


def test_join_date_rules() -> None:
    assert identity.check_join_date(TODAY, date(1990, 1, 1), TODAY) == TODAY
    with pytest.raises(InvalidField, match="future"):
        identity.check_join_date(date(2026, 11, 26), date(1990, 1, 1), TODAY)
    with pytest.raises(InvalidField, match="before the birth"):
        identity.check_join_date(date(1989, 1, 1), date(1990, 1, 1), TODAY)


@pytest.mark.parametrize("raw, parsed", [("12/03/1994", date(1994, 3, 12)),
                                         ("1/2/1990", date(1990, 2, 1)),
                                         ("1994-03-12", date(1994, 3, 12))])
def test_date_formats(raw: str, parsed: date) -> None:
    assert identity.parse_date(raw, "birth_date") == parsed


@pytest.mark.parametrize("raw, message", [("31/02/1994", "not a real date"),
                                          ("1994/03/12", "not a date"), ("March 3", "not a date")])
def test_bad_dates(raw: str, message: str) -> None:
    with pytest.raises(InvalidField, match=message):
        identity.parse_date(raw, "birth_date")
