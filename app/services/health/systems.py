"""Code systems and identifier systems of the FHIR mapping (docs/fhir-mapping.md lists them)."""

from __future__ import annotations

from app.services.health.sensitive import ATC_SYSTEM, V3_ACT_CODE, V3_CONFIDENTIALITY

# Identifier systems (NamingSystem URIs). The Vietnamese ones are defined by this project
# until the issuing bodies publish their own; a feed must use exactly these.
HEALTH_ID = "https://bhxh.gov.vn/fhir/sid/ma-so-bhxh"  # mã số BHXH, 10 digits
FACILITY = "https://bhxh.gov.vn/fhir/sid/ma-co-so-kcb"  # mã cơ sở KCB, 5 digits
DRUG_REGISTRATION = "https://dav.gov.vn/fhir/sid/so-dang-ky"  # số đăng ký thuốc (VD-/VN-/QLĐB-)

# Code systems
ICD10 = "http://hl7.org/fhir/sid/icd-10"
ICD10_VN = "https://moh.gov.vn/fhir/sid/icd-10-vn"  # ICD-10 as issued by Decision 4469/QĐ-BYT
ATC = ATC_SYSTEM
CVX = "http://hl7.org/fhir/sid/cvx"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
V3_ROLE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
CONFIDENTIALITY = V3_CONFIDENTIALITY
ACT_CODE = V3_ACT_CODE

# Project code systems (CodeSystem URIs) for what no international system covers.
_BASE = "https://unioncard.vn/fhir/CodeSystem"
OCC_EXAM_TYPE = f"{_BASE}/occ-exam-type"  # periodic, pre-employment, ...
OCC_OBSERVATION = f"{_BASE}/occ-observation"  # health-class, job-fitness, hazard, finding
HEALTH_CLASS = f"{_BASE}/health-class"  # I..V (Decision 1613/BYT-QĐ)
JOB_FITNESS = f"{_BASE}/job-fitness"  # fit, fit-with-restrictions, ...
OCC_HAZARD = f"{_BASE}/occ-hazard"  # noise, dust, solvents, ...
SUMMARY_SECTION = f"{_BASE}/summary-section"  # the section ids of app.services.health.summary

# Codes of OCC_OBSERVATION
OCC_HEALTH_CLASS = "health-class"
OCC_FITNESS = "job-fitness"
OCC_HAZARD_CODE = "hazard-exposure"
OCC_FINDING = "occ-disease-finding"

#: LOINC codes of the blood group (ABO and Rh).
BLOOD_GROUP_LOINC = frozenset({"882-1", "34474-6"})
#: SNOMED CT severity "Severe": a condition with it is critical (emergency core).
SEVERE = "24484000"

#: Systems the mapping knows; a concept coded only in others must carry text (docs).
KNOWN_SYSTEMS = frozenset({
    HEALTH_ID, FACILITY, DRUG_REGISTRATION, ICD10, ICD10_VN, ATC, CVX, LOINC, SNOMED, UCUM,
    OBSERVATION_CATEGORY, OCC_EXAM_TYPE, OCC_OBSERVATION, HEALTH_CLASS, JOB_FITNESS, OCC_HAZARD,
})

#: IPS section LOINC codes per summary section (None: no IPS section; project code only).
IPS_SECTION_LOINC: dict[str, tuple[str, str] | None] = {
    "emergency-core": None,
    "allergies": ("48765-2", "Allergies and adverse reactions Document"),
    "conditions": ("11450-4", "Problem list - Reported"),
    "medications": ("10160-0", "History of Medication use Narrative"),
    "immunizations": ("11369-6", "History of Immunization Narrative"),
    "vitals-labs": ("30954-2", "Relevant diagnostic tests/laboratory data Narrative"),
    "occ-exam-summary": None,
    "occ-exam-detail": None,
}
VITAL_SIGNS_SECTION_LOINC = ("8716-3", "Vital signs")
