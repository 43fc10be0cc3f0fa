"""Regenerate r4-invariants.json from the official FHIR R4 (4.0.1) core package.

Usage: python tests/app/data/extract_r4_invariants.py PACKAGE_DIR > tests/app/data/r4-invariants.json

PACKAGE_DIR is the ``package/`` folder of ``hl7.fhir.r4.core`` 4.0.1 (see SOURCES.md for where
that package came from). Only what the checker (tests/app/fhir_invariants.py) needs is kept: for
every datatype and for the resource types listed in RESOURCES, each snapshot element's path,
cardinality, types and the keys of its constraints; and each constraint's key, severity, human
text, FHIRPath expression and source.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

#: The resource types the service emits (app/services/health/fhir_out.py, consent_fhir.py,
#: app/services/access/export.py, app/api/consents.py), the ones an IPS document may carry,
#: and the abstract bases.
RESOURCES = (
    "Resource", "DomainResource", "Bundle", "Composition", "Patient", "Organization",
    "AllergyIntolerance", "Condition", "MedicationStatement", "Medication", "Immunization",
    "Observation", "Encounter", "Provenance", "Consent", "Practitioner", "PractitionerRole",
    "RelatedPerson", "Device", "DocumentReference", "DiagnosticReport", "Procedure",
    "OperationOutcome", "Location", "List", "Flag", "CarePlan", "ClinicalImpression",
    "MedicationRequest", "MedicationAdministration", "MedicationDispense", "Specimen",
    "ImagingStudy", "Media", "DeviceUseStatement",
)
#: Profiles of datatypes (derivation ``constraint``) that elements name in their types.
TYPE_PROFILES = ("SimpleQuantity", "MoneyQuantity", "Age", "Count", "Distance", "Duration")
_FHIR_TYPE = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
_BASE = "http://hl7.org/fhir/StructureDefinition/"


def _type(t: dict[str, Any]) -> dict[str, Any]:
    code = t["code"]
    for ext in t.get("extension", ()):
        if ext["url"] == _FHIR_TYPE:
            code = ext.get("valueUrl") or ext.get("valueUri")
    out: dict[str, Any] = {"code": code}
    profiles = [p.removeprefix(_BASE) for p in t.get("profile", ())
                if p.removeprefix(_BASE) in TYPE_PROFILES]
    if profiles:
        out["profile"] = profiles
    return out


def main(package: Path) -> dict[str, Any]:
    constraints: dict[str, dict[str, Any]] = {}
    types: dict[str, Any] = {}
    for path in sorted(package.glob("StructureDefinition-*.json")):
        sd = json.loads(path.read_text(encoding="utf-8"))
        name = sd["id"]
        wanted = (sd["kind"] in ("primitive-type", "complex-type")
                  and sd.get("derivation") == "specialization") or name in TYPE_PROFILES \
            or (sd["kind"] == "resource" and name in RESOURCES)
        if not wanted or sd["url"] != _BASE + name:
            continue
        elements: dict[str, Any] = {}
        for el in sd["snapshot"]["element"]:
            entry: dict[str, Any] = {"min": el.get("min", 0), "max": el.get("max", "*")}
            if "type" in el:
                entry["types"] = [_type(t) for t in el["type"]]
            if "contentReference" in el:
                entry["contentReference"] = el["contentReference"].lstrip("#")
            keys = []
            for c in el.get("constraint", ()):
                body = {"severity": c["severity"], "human": c["human"],
                        "expression": c.get("expression", ""),
                        "source": c.get("source", sd["url"]).removeprefix(_BASE)}
                old = constraints.get(c["key"])
                if old is not None and old["expression"] != body["expression"]:
                    raise SystemExit(f"{c['key']}: two expressions ({old} / {body})")
                constraints.setdefault(c["key"], body)
                keys.append(c["key"])
            if keys:
                entry["constraints"] = keys
            elements[el["path"]] = entry
        types[name] = {"kind": sd["kind"], "base": sd.get("baseDefinition", "").removeprefix(
            _BASE) or None, "elements": elements}
    missing = [r for r in (*RESOURCES, *TYPE_PROFILES) if r not in types]
    if missing:
        raise SystemExit(f"not in the package: {missing}")
    return {
        "source": "hl7.fhir.r4.core 4.0.1 (FHIR R4 StructureDefinition snapshots), CC0-1.0",
        "constraints": dict(sorted(constraints.items())),
        "types": types,
    }


if __name__ == "__main__":
    json.dump(main(Path(sys.argv[1])), sys.stdout, ensure_ascii=False, indent=0,
              sort_keys=False)
    sys.stdout.write("\n")
