"""Benchmark: how big the reference card is in each encoding, as QR versions at ECC M and NFC.

    .venv/bin/python scripts/bench/cards_formats.py

The reference member "Nguyễn Thị Kim Yến", without and with an emergency core (blood group,
2 allergies, 1 condition). UC1 (CBOR/COSE/zlib/base45, alphanumeric QR) is compared with the
same facts as a SMART Health Card-style JWS (ES256, raw DEFLATE, a minimal FHIR bundle,
``shc:/`` numeric encoding, two QR segments) and as a plain JSON JWS in byte mode.
Targets (issue 3): UC1 at most version 10 without and 11 with the emergency core (an SHC-style
card needs about 15); the card with the emergency core fits an NTAG215.
"""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import jwt  # noqa: E402
import qrcode  # noqa: E402
from qrcode.util import MODE_8BIT_BYTE, MODE_NUMBER, QRData  # noqa: E402

import cards  # noqa: E402
from cards import nfc, testing  # noqa: E402
from cards.claims import CardClaims, EmergencyCore  # noqa: E402
from cards.qr import make_qr  # noqa: E402

EMERGENCY = EmergencyCore(blood_group="O+", allergies=("Penicillin", "Hải sản"),
                          conditions=("E11",))


def _qr_version(segments: list[QRData]) -> int:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    for segment in segments:
        code.add_data(segment)
    code.make(fit=True)
    return int(code.version)


def fhir_payload(claims: CardClaims) -> dict[str, object]:
    """The same facts as a SMART Health Card payload with a minimal FHIR R4 bundle."""
    entries: list[dict[str, object]] = [{"fullUrl": "resource:0", "resource": {
        "resourceType": "Patient", "name": [{"text": claims.name}],
        "birthDate": claims.birth_date.isoformat(),
        "identifier": [{"system": "urn:vn:vgcl:member", "value": claims.member_number}],
        "extension": [{"url": "urn:vn:vgcl:union", "valueString": claims.union_code}]}}]
    if claims.emergency is not None:
        e = claims.emergency
        entries.append({"fullUrl": "resource:1", "resource": {
            "resourceType": "Observation", "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "882-1"}]},
            "subject": {"reference": "resource:0"},
            "valueString": e.blood_group}})
        for i, allergy in enumerate(e.allergies):
            entries.append({"fullUrl": f"resource:{2 + i}", "resource": {
                "resourceType": "AllergyIntolerance", "criticality": "high",
                "code": {"text": allergy}, "patient": {"reference": "resource:0"}}})
        for i, condition in enumerate(e.conditions):
            entries.append({"fullUrl": f"resource:{4 + i}", "resource": {
                "resourceType": "Condition", "code": {"coding": [
                    {"system": "http://hl7.org/fhir/sid/icd-10", "code": condition}]},
                "subject": {"reference": "resource:0"}}})
    return {"iss": f"https://unioncard.example/issuers/{claims.issuer}", "nbf": claims.issued_at,
            "exp": claims.expires_at, "jti": claims.serial,
            "vc": {"type": ["https://smarthealth.cards#health-card"], "credentialSubject": {
                "fhirVersion": "4.0.1",
                "fhirBundle": {"resourceType": "Bundle", "type": "collection",
                               "entry": entries}}}}


def shc_jws(payload: dict[str, object], key: cards.SigningKey) -> str:
    """SMART Health Card style: minified JSON, raw DEFLATE, ES256 compact JWS with zip=DEF."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    deflated = compressor.compress(body) + compressor.flush()
    return jwt.api_jws.PyJWS().encode(deflated, key.private_key, algorithm="ES256",
                                      headers={"zip": "DEF", "kid": key.kid})


def shc_numeric(jws: str) -> str:
    """The ``shc:/`` numeric encoding: each character as two digits (ord - 45)."""
    return "".join(f"{ord(ch) - 45:02d}" for ch in jws)


def main() -> None:
    key = testing.signing_key()
    print(f"{'card':28} {'encoding':34} {'chars':>6} {'QR version (M)':>15}")
    for label, emergency in (("without health data", None), ("with emergency core", EMERGENCY)):
        claims = testing.reference_claims(emergency=emergency)
        uc1 = cards.issue(claims, key, now=testing.REFERENCE_NOW)
        print(f"{label:28} {'UC1 (alphanumeric)':34} {len(uc1):6} {make_qr(uc1).version:15}")
        jws = shc_jws(fhir_payload(claims), key)
        digits = shc_numeric(jws)
        version = _qr_version([QRData(b"shc:/", mode=MODE_8BIT_BYTE),
                               QRData(digits.encode(), mode=MODE_NUMBER)])
        print(f"{label:28} {'SHC-style JWS (shc:/ numeric)':34} {len(digits) + 5:6} "
              f"{version:15}")
        plain = jwt.api_jws.PyJWS().encode(
            json.dumps(claims.to_dict(), default=str, ensure_ascii=False).encode(),
            key.private_key, algorithm="ES256", headers={"kid": key.kid})
        version = _qr_version([QRData(plain.encode(), mode=MODE_8BIT_BYTE)])
        print(f"{label:28} {'JSON JWS (byte mode)':34} {len(plain):6} {version:15}")
        ndef = nfc.make_ndef(uc1, "https://unioncard.example/v/" + claims.serial)
        print(f"{label:28} {'UC1 NFC NDEF message':34} {ndef.size:6} "
              f"{'tag: ' + ndef.tag.name:>15}")


if __name__ == "__main__":
    main()
