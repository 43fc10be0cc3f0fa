"""The shipped FHIR fixtures (app/data/fhir) for the FHIR tests."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from importlib import resources
from typing import Any

NOW = datetime(2025, 11, 5, 3, 0, tzinfo=UTC)
#: health ID -> fixture file name
FIXTURES = {
    "7412345678": "yen-7412345678.json",
    "7923456789": "hung-7923456789.json",
    "2734567890": "hoa-2734567890.json",
    "7945678901": "anh-7945678901.json",
}


def raw(health_id: str) -> bytes:
    """The fixture Bundle's bytes."""
    return (resources.files("app") / "data" / "fhir" / FIXTURES[health_id]).read_bytes()


def bundle(health_id: str) -> dict[str, Any]:
    """A fresh copy of the fixture Bundle as a dict."""
    return copy.deepcopy(json.loads(raw(health_id)))


def resources_of(b: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The resources of one type in a Bundle dict."""
    return [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == kind]
