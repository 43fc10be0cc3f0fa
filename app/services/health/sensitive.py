"""Whether a health-record entry is sensitive: decided fail-closed (docs/fhir-mapping.md §6).

An entry is released without the member's ``sensitive`` consent only when it is *positively*
classified as not sensitive. ``classify`` gives each entry one verdict:

1. a ``meta.security`` label of ``security-labels.csv`` → sensitive, the label's category;
2. any of its codings (the value's codings too) in a sensitive table → sensitive, that category:
   ICD-10 in every variant (``icd10.csv``), ATC (``atc.csv``), SNOMED CT (``snomed.csv``),
   LOINC (``loinc.csv``), a medicine's national registration number through its ATC code
   (``drug-registrations.csv``);
3. otherwise, for the kinds whose content can disclose a condition (conditions, medications,
   results, exam findings): not sensitive only when some coding is positively classified as not
   sensitive (a well-formed ICD-10 or ATC code outside every sensitive range and not a coarser
   code spanning one, a SNOMED CT or LOINC code on a not-sensitive list, a project code);
   else **unclassified**, which is released like a sensitive entry and never enters the
   emergency core or the card;
4. allergies and immunizations are not sensitive unless step 1 or 2 says so.

The tables are data in ``app/data/sensitivity/`` (their sources in its SOURCES.md).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Literal

ATC_SYSTEM = "http://www.whocc.no/atc"
V3_CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
SNOMED_SYSTEM = "http://snomed.info/sct"
LOINC_SYSTEM = "http://loinc.org"
DRUG_REGISTRATION_SYSTEM = "https://dav.gov.vn/fhir/sid/so-dang-ky"
#: The project's own code systems (occupational exams): never sensitive.
PROJECT_SYSTEMS_PREFIX = "https://unioncard.vn/fhir/CodeSystem/"

#: The protected categories, the catch-all of a confidentiality label, and the verdict of an
#: entry that cannot be classified.
CATEGORIES = ("mental-health", "hiv-sti", "reproductive-sexual-health", "substance-use",
              "genetic")
RESTRICTED = "restricted"
UNCLASSIFIED = "unclassified"

#: The entry kinds; those in ``FAIL_CLOSED_KINDS`` need a positive "not sensitive".
Kind = Literal["allergy", "condition", "medication", "immunization", "result", "finding",
               "exam"]
FAIL_CLOSED_KINDS = frozenset({"condition", "medication", "result", "finding"})

#: ICD-10 system URIs (normalised: lower case, no scheme, no trailing slash or version).
ICD10_SYSTEMS = frozenset({
    "hl7.org/fhir/sid/icd-10", "hl7.org/fhir/sid/icd-10-cm", "hl7.org/fhir/sid/icd-10-vn",
    "moh.gov.vn/fhir/sid/icd-10-vn", "terminology.hl7.org/codesystem/icd10",
    "terminology.hl7.org/codesystem/icd10cm", "id.who.int/icd/release/10",
    "urn:oid:2.16.840.1.113883.6.3", "urn:oid:2.16.840.1.113883.6.90",
})
#: Other national ICD-10 modifications (``…/sid/icd-10-de``) and WHO's versioned releases.
_ICD10_PATTERN = re.compile(r"(hl7\.org/fhir/sid/icd-10-[a-z]{2,3}|id\.who\.int/icd/release/10/"
                            r"\d{4}(-\d{2})?)")
_ATC_SYSTEMS = frozenset({"whocc.no/atc", "urn:oid:2.16.840.1.113883.6.73"})
_LABEL_SYSTEM_ALIASES = {"urn:oid:2.16.840.1.113883.5.25": V3_CONFIDENTIALITY,
                         "urn:oid:2.16.840.1.113883.5.4": V3_ACT_CODE}

_ICD10_CODE = re.compile(r"[A-Z][0-9][0-9A-Z](\.?[0-9A-Z]{1,4})?")
_ATC_CODE = re.compile(r"[ABCDGHJLMNPRSV]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?")


@dataclass(frozen=True)
class Rule:
    """A range of codes ``low``..``high`` (inclusive, compared on ``len(low)`` characters of the
    code without its dot), the sensitive category and why."""

    low: str
    high: str
    category: str
    why: str

    def matches(self, code: str) -> bool:
        """Whether ``code`` (e.g. ``F32.1``, ``f321``) lies in the range."""
        head = _plain(code)[:len(self.low)]
        return len(head) == len(self.low) and self.low <= head <= self.high

    def spans(self, code: str) -> bool:
        """Whether ``code`` is coarser than the rule and covers part of its range (``J05A``
        covers ``J05AE``, ``Z20`` covers ``Z20.6``): such a code cannot be decided."""
        head = _plain(code)
        n = len(head)
        return n < len(self.low) and self.low[:n] <= head <= self.high[:n]


@dataclass(frozen=True)
class Verdict:
    """One entry's classification: ``category`` is a protected category, ``restricted``,
    ``unclassified``, or None (positively not sensitive)."""

    category: str | None

    @property
    def sensitive(self) -> bool:
        """Released only under the ``sensitive`` consent (unclassified entries too)."""
        return self.category is not None


NOT_SENSITIVE = Verdict(None)


def _plain(code: str) -> str:
    return code.replace(".", "").strip().upper()


def _rows(name: str) -> list[dict[str, str]]:
    raw = resources.files("app").joinpath("data", "sensitivity", name).read_text("utf-8")
    return list(csv.DictReader(io.StringIO(raw)))


def _rules(name: str) -> tuple[Rule, ...]:
    return tuple(Rule(r["low"], r["high"], r["category"], r["why"]) for r in _rows(name))


#: ICD-10 ranges; the first matching rule names the category (substance use before mental).
ICD10_RULES: tuple[Rule, ...] = _rules("icd10.csv")
#: ATC classes whose use discloses a sensitive condition.
ATC_RULES: tuple[Rule, ...] = _rules("atc.csv")
#: ``meta.security`` labels that mark a resource sensitive: system -> code -> category.
SECURITY_LABELS: dict[str, dict[str, str]] = {}
for _row in _rows("security-labels.csv"):
    SECURITY_LABELS.setdefault(_row["system"], {})[_row["code"]] = _row["category"]


@cache
def _concepts(system: str) -> tuple[Mapping[str, str], frozenset[str]]:
    """(sensitive code -> category, positively not-sensitive codes) of SNOMED CT or LOINC."""
    sensitive = {r["code"]: r["category"] for r in _rows(f"{system}.csv")}
    ordinary = frozenset(r["code"] for r in _rows(f"{system}-not-sensitive.csv"))
    return sensitive, ordinary


_drug_registrations: dict[str, str] = {}


def add_drug_registrations(rows: Iterable[Mapping[str, str]]) -> int:
    """Map national registration numbers (``registration``) to ATC codes (``atc``); how many.

    Raises:
        ValueError: a row lacks either, or its ATC code is not well formed.
    """
    added = 0
    for row in rows:
        number, atc = (row.get("registration") or "").strip(), _plain(row.get("atc") or "")
        if not number or not _ATC_CODE.fullmatch(atc):
            raise ValueError(f"a drug registration row needs a number and an ATC code: {row}")
        _drug_registrations[number.upper()] = atc
        added += 1
    category.cache_clear()
    return added


def _normal_system(system: str) -> str:
    s = system.strip().lower().split("|", 1)[0].rstrip("/")
    s = s.split("://", 1)[1] if "://" in s else s
    return s.removeprefix("www.")


def system_kind(system: str) -> str | None:
    """``icd10``, ``atc``, ``snomed``, ``loinc``, ``registration``, ``project`` or None."""
    if system.startswith(PROJECT_SYSTEMS_PREFIX):
        return "project"
    s = _normal_system(system)
    if s in ICD10_SYSTEMS or _ICD10_PATTERN.fullmatch(s):
        return "icd10"
    if s in _ATC_SYSTEMS:
        return "atc"
    if s in ("snomed.info/sct", "urn:oid:2.16.840.1.113883.6.96"):
        return "snomed"
    if s in ("loinc.org", "urn:oid:2.16.840.1.113883.6.1"):
        return "loinc"
    if s == _normal_system(DRUG_REGISTRATION_SYSTEM):
        return "registration"
    return None


def _ranged(code: str, pattern: re.Pattern[str], rules: tuple[Rule, ...]) -> str | None:
    if not pattern.fullmatch(code.strip().upper()):
        return UNCLASSIFIED
    hit = next((r.category for r in rules if r.matches(code)), None)
    if hit is not None:
        return hit
    return UNCLASSIFIED if any(r.spans(code) for r in rules) else None


@lru_cache(maxsize=16384)
def category(system: str, code: str) -> str | None:
    """One coding's verdict: a category, ``unclassified`` (not decidable), or None (positively
    not sensitive)."""
    kind = system_kind(system)
    code = code.strip()
    if kind == "icd10":
        return _ranged(code, _ICD10_CODE, ICD10_RULES)
    if kind == "atc":
        return _ranged(code, _ATC_CODE, ATC_RULES)
    if kind in ("snomed", "loinc"):
        sensitive, ordinary = _concepts(kind)
        return sensitive.get(code) or (None if code in ordinary else UNCLASSIFIED)
    if kind == "registration":
        atc = _drug_registrations.get(code.upper())
        return UNCLASSIFIED if atc is None else _ranged(atc, _ATC_CODE, ATC_RULES)
    if kind == "project":
        return None
    return UNCLASSIFIED


def label_category(system: str, code: str) -> str | None:
    """The category a ``meta.security`` label gives, or None."""
    return SECURITY_LABELS.get(_LABEL_SYSTEM_ALIASES.get(system, system), {}).get(code)


def classify(kind: Kind, codings: Iterable[tuple[str, str]],
             security: Iterable[tuple[str, str]] = (), *,
             qualifying: Iterable[tuple[str, str]] = ()) -> Verdict:
    """The verdict on one entry of ``kind`` from its codings ``(system, code)`` (the concept's
    and its value's) and its ``meta.security`` labels. Sensitive when a label or a code says so,
    or (for the kinds in ``FAIL_CLOSED_KINDS``) when no coding is positively not sensitive; the
    category named is the first protected one a label or code gives, else ``unclassified``
    where the codes cannot decide, else ``restricted`` for a confidentiality label.
    ``qualifying`` codings (a result's value: "positive", "negative") may name a protected
    category but are never the positive evidence that clears an entry: a result whose own code
    is unknown stays unclassified whatever its value says."""
    labels = [c for c in (label_category(s, x) for s, x in security) if c]
    verdicts = [category(system, code) for system, code in codings]
    qualified = [category(system, code) for system, code in qualifying]
    named = next((c for c in (*labels, *verdicts, *qualified) if c in CATEGORIES), None)
    if named is not None:
        return Verdict(named)
    undecided = kind in FAIL_CLOSED_KINDS and not any(v is None for v in verdicts)
    if undecided:
        return Verdict(UNCLASSIFIED)
    return Verdict(labels[0]) if labels else NOT_SENSITIVE


#: The ``v3-ActCode`` label our FHIR output gives each protected category (read back to it).
CATEGORY_LABELS = {"mental-health": "PSY", "hiv-sti": "HIV", "substance-use": "SUD",
                   "reproductive-sexual-health": "SEX", "genetic": "GDIS"}


def combine(verdicts: Iterable[Verdict]) -> Verdict:
    """One verdict for several parts (an exam's findings): the first protected category (or
    ``restricted``), else ``unclassified`` if any part is, else not sensitive."""
    found = [v for v in verdicts if v.sensitive]
    return next((v for v in found if v.category != UNCLASSIFIED), found[0] if found
                else NOT_SENSITIVE)


def is_sensitive(codings: Iterable[tuple[str, str]],
                 security: Iterable[tuple[str, str]] = ()) -> bool:
    """Whether a condition-like entry with these codings and labels is withheld without the
    ``sensitive`` consent (fail-closed: unclassified counts)."""
    return classify("condition", codings, security).sensitive


add_drug_registrations(_rows("drug-registrations.csv"))
