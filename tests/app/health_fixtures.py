"""A realistic health-summary document (the sections of design §2) with distinctive strings."""

from __future__ import annotations

from typing import Any

#: Strings of the document that must never appear outside the member's own decrypted view.
DISTINCTIVE = ("Viêm gan B mạn tính", "Penicillin G benzathine", "Tenofovir disoproxil",
               "VD-31234-19", "Bụi silic tinh thể", "Bệnh bụi phổi silic nghề nghiệp",
               "Rối loạn lo âu lan tỏa", "Hepatitis B vaccine", "Phùng Thị Hoa Lựu",
               "0912 777 345", "Bệnh viện Đa khoa tỉnh Bắc Ninh", "FQY-ZQ-9917",
               "K74.6-zeta", "Sinh hóa máu 2026")


def provenance(n: int) -> dict[str, Any]:
    return {"feed": "vssid-test", "bundle_id": f"bundle-FQY-ZQ-9917-{n}",
            "received_at": "2026-11-20T08:00:00+00:00"}


def entry(n: int, **fields: Any) -> dict[str, Any]:
    return {"source": {"code": "27001", "name": "Bệnh viện Đa khoa tỉnh Bắc Ninh"},
            "date": "2026-10-0" + str(n % 9 + 1), "provenance": provenance(n),
            "sensitive": False, **fields}


def health_document() -> dict[str, Any]:
    """One member's summary: every section, a sensitive entry, Vietnamese text throughout."""
    return {
        "emergency-core": [entry(1, blood_group={"abo": "B", "rh": "+"},
                                 emergency_contact={"name": "Phùng Thị Hoa Lựu",
                                                    "phone": "0912 777 345",
                                                    "relationship": "mẹ"})],
        "allergies": [entry(2, code={"system": "http://www.whocc.no/atc", "code": "J01CE08",
                                     "text": "Penicillin G benzathine"},
                            reaction="Sốc phản vệ", criticality="high")],
        "conditions": [entry(3, code={"system": "http://hl7.org/fhir/sid/icd-10",
                                      "code": "B18.1", "text": "Viêm gan B mạn tính"}),
                       entry(4, code={"system": "http://hl7.org/fhir/sid/icd-10",
                                      "code": "F41.1", "text": "Rối loạn lo âu lan tỏa"},
                             sensitive=True),
                       entry(5, code={"system": "urn:unknown", "code": "K74.6-zeta",
                                      "text": "K74.6-zeta"})],
        "medications": [entry(6, code={"system": "http://www.whocc.no/atc", "code": "J05AF07",
                                       "text": "Tenofovir disoproxil"},
                              registration_number="VD-31234-19", dose="300 mg mỗi ngày")],
        "immunizations": [entry(7, code={"system": "http://hl7.org/fhir/sid/cvx", "code": "08",
                                         "text": "Hepatitis B vaccine"}, dose_number=3)],
        "vitals-labs": [entry(8, code={"system": "http://loinc.org", "code": "1742-6",
                                       "text": "ALT Sinh hóa máu 2026"},
                              value=58, unit="U/L")],
        "occ-exam-summary": [entry(9, exam_type="periodic", health_class="III",
                                   fitness="Đủ sức khỏe làm việc, hạn chế bụi",
                                   hazards=["Bụi silic tinh thể"])],
        "occ-exam-detail": [entry(10, findings=["Bệnh bụi phổi silic nghề nghiệp"],
                                  facility="Trung tâm Kiểm soát bệnh tật Bắc Ninh")],
    }
