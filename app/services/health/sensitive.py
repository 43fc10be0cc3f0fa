"""The codes that make an entry ``sensitive`` (docs/fhir-mapping.md gives the rationale).

An entry is sensitive when one of its codes falls in ``ICD10_RULES`` or ``ATC_RULES``, or when
its resource carries one of ``SECURITY_LABELS`` in ``meta.security``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

ICD10_SYSTEMS = frozenset({"http://hl7.org/fhir/sid/icd-10",
                           "https://moh.gov.vn/fhir/sid/icd-10-vn"})
ATC_SYSTEM = "http://www.whocc.no/atc"
V3_CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"


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
        head = code.replace(".", "").strip().upper()[:len(self.low)]
        return len(head) == len(self.low) and self.low <= head <= self.high


#: ICD-10 ranges; the first matching rule names the category (substance use before mental).
ICD10_RULES: tuple[Rule, ...] = (
    Rule("F10", "F19", "substance-use",
         "Mental and behavioural disorders due to psychoactive substance use."),
    Rule("F00", "F99", "mental-health", "Chapter V, mental and behavioural disorders."),
    Rule("B20", "B24", "hiv", "HIV disease."),
    Rule("Z21", "Z21", "hiv", "Asymptomatic HIV infection status."),
    Rule("R75", "R75", "hiv", "Inconclusive laboratory evidence of HIV."),
    Rule("Z206", "Z206", "hiv", "Contact with and exposure to HIV."),
    Rule("O00", "O99", "reproductive-health", "Chapter XV, pregnancy, childbirth, puerperium."),
    Rule("N96", "N98", "reproductive-health",
         "Habitual aborter, female infertility, complications of artificial fertilisation."),
    Rule("N46", "N46", "reproductive-health", "Male infertility."),
    Rule("Z30", "Z39", "reproductive-health",
         "Contraception, procreation, pregnancy, supervision and delivery."),
    Rule("A50", "A64", "reproductive-health", "Infections with a predominantly sexual mode of "
         "transmission (sexual health)."),
    Rule("Z15", "Z15", "genetics", "Genetic susceptibility to disease."),
    Rule("Q90", "Q99", "genetics", "Chromosomal abnormalities."),
    Rule("X60", "X84", "mental-health", "Intentional self-harm."),
    Rule("Z915", "Z915", "mental-health", "Personal history of self-harm."),
)

#: ATC classes whose use discloses a sensitive condition.
ATC_RULES: tuple[Rule, ...] = (
    Rule("J05AE", "J05AE", "hiv", "HIV protease inhibitors."),
    Rule("J05AF", "J05AG", "hiv", "Nucleoside and non-nucleoside reverse transcriptase "
         "inhibitors (mostly antiretroviral therapy)."),
    Rule("J05AJ", "J05AJ", "hiv", "Integrase inhibitors."),
    Rule("J05AR", "J05AR", "hiv", "Antiviral combinations for HIV."),
    Rule("N05A", "N05A", "mental-health", "Antipsychotics."),
    Rule("N05B", "N05C", "mental-health", "Anxiolytics, hypnotics and sedatives."),
    Rule("N06A", "N06A", "mental-health", "Antidepressants."),
    Rule("N06B", "N06B", "mental-health", "Psychostimulants for ADHD."),
    Rule("N07B", "N07B", "substance-use", "Drugs used in addictive disorders (methadone, "
         "buprenorphine, nicotine, alcohol dependence)."),
    Rule("G03A", "G03A", "reproductive-health", "Hormonal contraceptives."),
    Rule("G03G", "G03G", "reproductive-health", "Gonadotropins (fertility treatment)."),
    Rule("G02B", "G02B", "reproductive-health", "Topical contraceptives."),
)

#: ``meta.security`` labels that mark a resource sensitive, by system.
SECURITY_LABELS: dict[str, frozenset[str]] = {
    V3_CONFIDENTIALITY: frozenset({"R", "V"}),
    V3_ACT_CODE: frozenset({"PSY", "PSYTHPN", "HIV", "ETH", "ETHUD", "SDV", "SEX", "STD",
                            "GDIS", "SUD", "SICKLE", "BH", "TBOO"}),
}


@lru_cache(maxsize=8192)
def category(system: str, code: str) -> str | None:
    """The sensitive category of one coding, or None if it is not sensitive."""
    if system in ICD10_SYSTEMS:
        rules = ICD10_RULES
    elif system == ATC_SYSTEM:
        rules = ATC_RULES
    else:
        return None
    return next((r.category for r in rules if r.matches(code)), None)


def is_sensitive(codings: Iterable[tuple[str, str]],
                 security: Iterable[tuple[str, str]] = ()) -> bool:
    """Whether any coding ``(system, code)`` is sensitive or any security label marks it."""
    if any(code in SECURITY_LABELS.get(system, ()) for system, code in security):
        return True
    return any(category(system, code) is not None for system, code in codings)
