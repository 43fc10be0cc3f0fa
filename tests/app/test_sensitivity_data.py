"""The concept sets behind the sensitive-data classifier (app/data/sensitivity): well-formed,
checked codes, one list per code, every category covered, and the project's own fixture codes
classified (SOURCES.md there says where each list comes from)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from importlib import resources

import pytest

CATEGORIES = frozenset({"mental-health", "hiv-sti", "reproductive-sexual-health",
                        "substance-use", "genetic"})
SENSITIVE_HEADER = ["code", "category", "display", "source"]
NOT_SENSITIVE_HEADER = ["code", "display", "source"]
SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"

# Verhoeff tables (SNOMED CT identifiers end in a Verhoeff check digit).
_D = ((0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
      (2, 3, 4, 0, 1, 7, 8, 9, 5, 6), (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
      (4, 0, 1, 2, 3, 9, 5, 6, 7, 8), (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
      (6, 5, 9, 8, 7, 1, 0, 4, 3, 2), (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
      (8, 7, 6, 5, 9, 3, 2, 1, 0, 4), (9, 8, 7, 6, 5, 4, 3, 2, 1, 0))
_P = ((0, 1, 2, 3, 4, 5, 6, 7, 8, 9), (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
      (5, 8, 0, 3, 7, 9, 6, 1, 4, 2), (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
      (9, 4, 5, 3, 1, 2, 6, 8, 7, 0), (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
      (2, 7, 9, 3, 8, 0, 6, 4, 1, 5), (7, 0, 4, 6, 9, 1, 3, 2, 5, 8))


def snomed_ok(code: str) -> bool:
    """A SNOMED CT concept id: 6-18 digits, no leading zero, valid Verhoeff check digit."""
    if not re.fullmatch(r"[1-9][0-9]{5,17}", code):
        return False
    check = 0
    for i, digit in enumerate(reversed(code)):
        check = _D[check][_P[i % 8][int(digit)]]
    return check == 0


def loinc_ok(code: str) -> bool:
    """A LOINC code: digits, a dash and the LOINC mod-10 check digit."""
    match = re.fullmatch(r"([0-9]{1,7})-([0-9])", code)
    if match is None:
        return False
    total = 0
    for i, char in enumerate(reversed(match.group(1))):
        digit = int(char) * (2 if i % 2 == 0 else 1)
        total += digit // 10 + digit % 10
    return (10 - total % 10) % 10 == int(match.group(2))


def load(name: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of one CSV of app/data/sensitivity."""
    text = (resources.files("app") / "data" / "sensitivity" / name).read_text(encoding="utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    return header, [dict(zip(header, row, strict=True)) for row in reader]


FILES = {"snomed.csv": SENSITIVE_HEADER, "loinc.csv": SENSITIVE_HEADER,
         "snomed-not-sensitive.csv": NOT_SENSITIVE_HEADER,
         "loinc-not-sensitive.csv": NOT_SENSITIVE_HEADER}
CHECKS = {"snomed": snomed_ok, "loinc": loinc_ok}


def codes(name: str) -> set[str]:
    return {row["code"] for row in load(name)[1]}


def test_the_check_digit_functions_themselves() -> None:
    assert all(map(snomed_ok, ["35489007", "86406008", "278153001", "10939881000119105"]))
    assert not any(map(snomed_ok, ["278153003", "35489008", "12345", "086406008", "1x3456"]))
    assert all(map(loinc_ok, ["882-1", "20447-9", "4548-4", "105080-6"]))
    assert not any(map(loinc_ok, ["34474-6", "20447-8", "2044-79", "X-1", "882"]))


@pytest.mark.parametrize("name", sorted(FILES))
def test_each_file_is_well_formed(name: str) -> None:
    header, rows = load(name)
    assert header == FILES[name]
    assert rows, name
    valid = CHECKS[name.split("-")[0].removesuffix(".csv")]
    bad = [row["code"] for row in rows if not valid(row["code"])]
    assert not bad, f"{name}: malformed codes or wrong check digits {bad}"
    dups = [code for code, n in Counter(row["code"] for row in rows).items() if n > 1]
    assert not dups, f"{name}: duplicate codes {dups}"
    for row in rows:
        assert row["display"].strip() == row["display"] and row["display"], row
        assert row["source"].strip(), f"{name}: {row['code']} has no source"
        if "category" in row:
            assert row["category"] in CATEGORIES, row


@pytest.mark.parametrize("system", ["snomed", "loinc"])
def test_no_code_is_both_sensitive_and_not(system: str) -> None:
    both = codes(f"{system}.csv") & codes(f"{system}-not-sensitive.csv")
    assert not both, f"{system}: in both lists {sorted(both)}"


@pytest.mark.parametrize("system, minimum", [
    ("snomed", dict.fromkeys(CATEGORIES, 10)),
    ("loinc", {**dict.fromkeys(CATEGORIES, 10), "genetic": 3, "mental-health": 3}),
])
def test_every_category_is_covered(system: str, minimum: dict[str, int]) -> None:
    counts = Counter(row["category"] for row in load(f"{system}.csv")[1])
    short = {c: counts[c] for c in CATEGORIES if counts[c] < minimum[c]}
    assert not short, f"{system}: too few codes in {short}"


def _fixture_codings() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("system") in (SNOMED, LOINC) and isinstance(node.get("code"), str):
                found.add((node["system"], node["code"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in (resources.files("app") / "data" / "fhir").iterdir():
        if path.name.endswith(".json"):
            walk(json.loads(path.read_text(encoding="utf-8")))
    return found


def test_every_fixture_code_is_in_exactly_one_list() -> None:
    lists = {SNOMED: ("snomed.csv", "snomed-not-sensitive.csv"),
             LOINC: ("loinc.csv", "loinc-not-sensitive.csv")}
    codings = _fixture_codings()
    assert len(codings) > 20
    for system, code in sorted(codings):
        hits = [name for name in lists[system] if code in codes(name)]
        assert len(hits) == 1, f"{system}|{code} is in {hits or 'no list'}"


@pytest.mark.parametrize("system, code, where", [
    (SNOMED, "35489007", "snomed.csv"),            # Depressive disorder
    (SNOMED, "86406008", "snomed.csv"),            # HIV infection
    (LOINC, "20447-9", "loinc.csv"),               # HIV-1 viral load
    (LOINC, "56888-1", "loinc.csv"),               # HIV 1+2 Ab + p24 Ag (4th generation)
    (LOINC, "24467-3", "loinc.csv"),               # CD4 count
    (LOINC, "2106-3", "loinc.csv"),                # hCG pregnancy test, urine
    (LOINC, "718-7", "loinc-not-sensitive.csv"),   # plain haemoglobin
    (SNOMED, "40108008", "snomed.csv"),            # thalassaemia is genetic
])
def test_the_review_findings_land_where_they_belong(system: str, code: str, where: str) -> None:
    assert code in codes(where)
