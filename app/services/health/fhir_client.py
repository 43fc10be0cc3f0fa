"""Client for a FHIR R4 server: the pull (find the Patient by health ID, then fetch its
``$summary`` (IPS)) and the push of transaction Bundles (exam results, ``transaction``), with
timeouts, bounded retries with exponential backoff and domain errors."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from app.services.errors import (
    DomainError,
    HealthRecordAmbiguous,
    HealthRecordNotFound,
    HealthRecordUnavailable,
)
from app.services.health import systems as sy
from app.services.health.fhir_in import MAX_BYTES, MAX_ENTRIES, parse_bundle
from app.services.health.summary import HealthSummary

FHIR_JSON = "application/fhir+json"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


class TransactionRejected(DomainError):
    """The FHIR server refused a transaction Bundle for good (a 4xx other than 429);
    ``status`` is its answer."""


def _outcome_text(response: httpx.Response) -> str:
    """The first issue's text of an OperationOutcome answer (bounded), or ''."""
    try:
        data = response.json()
    except ValueError:
        return ""
    issues = data.get("issue") if isinstance(data, dict) else None
    if not isinstance(issues, list) or not issues or not isinstance(issues[0], dict):
        return ""
    return str(issues[0].get("diagnostics") or issues[0].get("code") or "")[:200]


class FhirPullClient:
    """Pulls a patient's summary from one FHIR server (``base_url`` ends before ``Patient``).

    ``retries`` is the number of further attempts after the first; the n-th waits
    ``backoff * 2**(n-1)`` seconds (or the server's Retry-After, if larger, capped at
    ``max_wait``). ``transport`` and ``sleep`` are for tests.
    """

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = 5.0,
                 retries: int = 3, backoff: float = 0.5, max_wait: float = 10.0,
                 max_bytes: int = MAX_BYTES, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        headers = {"Accept": FHIR_JSON}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=base_url.rstrip("/") + "/", headers=headers,
                                  timeout=timeout, transport=transport,
                                  follow_redirects=False)
        self.retries = retries
        self.backoff = backoff
        self.max_wait = max_wait
        self.max_bytes = max_bytes
        self._sleep = sleep

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> FhirPullClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def find_patient(self, health_id: str) -> str:
        """The server's id of the one Patient with this health ID.

        Raises:
            HealthRecordNotFound: no such Patient.
            HealthRecordAmbiguous: more than one.
            HealthRecordUnavailable: the server is down, slow, failing or answers garbage.
        """
        found = self._get_json("Patient", {"identifier": f"{sy.HEALTH_ID}|{health_id}"})
        if found.get("resourceType") != "Bundle":
            raise HealthRecordUnavailable("The health record server's search answer is not a "
                                          "Bundle.")
        ids = {str(e["resource"]["id"]) for e in found.get("entry") or ()
               if isinstance(e, dict) and isinstance(e.get("resource"), dict)
               and e["resource"].get("resourceType") == "Patient" and e["resource"].get("id")
               and (e.get("search") or {}).get("mode", "match") == "match"}
        if not ids:
            raise HealthRecordNotFound("The health record server knows no patient with this "
                                       "health ID.")
        if len(ids) > 1:
            raise HealthRecordAmbiguous(f"The health record server has {len(ids)} patients "
                                        "with this health ID; it must be resolved there.")
        patient_id = ids.pop()
        if not _FHIR_ID.fullmatch(patient_id):
            raise HealthRecordUnavailable("The health record server answered a Patient id that "
                                          "is not a FHIR id.")
        return patient_id

    def fetch_summary(self, health_id: str) -> dict[str, Any]:
        """The raw IPS Bundle of the patient with this health ID (not yet validated).

        Raises:
            HealthRecordNotFound, HealthRecordAmbiguous, HealthRecordUnavailable: as
                ``find_patient``.
        """
        patient_id = self.find_patient(health_id)
        return self._get_json(f"Patient/{patient_id}/$summary", {})

    def pull(self, health_id: str, *, feed: str, received_at: datetime,
             max_entries: int = MAX_ENTRIES) -> HealthSummary:
        """Fetch, validate and map the patient's summary.

        Raises:
            FhirInvalid: the server's Bundle is not valid for this patient.
            HealthRecordNotFound, HealthRecordAmbiguous, HealthRecordUnavailable: as
                ``find_patient``.
        """
        bundle = self.fetch_summary(health_id)
        return parse_bundle(bundle, health_id=health_id, feed=feed, received_at=received_at,
                            max_entries=max_entries)

    def _get_json(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        response = self._get(path, params)
        if response.status_code == 404:
            raise HealthRecordNotFound("The health record server has no such record.")
        if response.status_code >= 400:
            raise HealthRecordUnavailable(f"The health record server answered "
                                          f"{response.status_code}.")
        if len(response.content) > self.max_bytes:
            raise HealthRecordUnavailable("The health record server's answer is too large.")
        try:
            data = response.json()
        except ValueError as e:
            raise HealthRecordUnavailable("The health record server's answer is not JSON.") from e
        if not isinstance(data, dict):
            raise HealthRecordUnavailable("The health record server's answer is not a FHIR "
                                          "resource.")
        return data

    def transaction(self, bundle: dict[str, Any]) -> dict[str, Any]:
        """POST a FHIR ``transaction`` Bundle to the server's base URL and return its
        ``transaction-response`` Bundle. Retried like a read (timeouts, unreachable, 429 and
        5xx, with backoff): the caller makes the Bundle safe to send again (conditional
        creates, ``ifNoneExist``).

        Raises:
            TransactionRejected: the server refused the Bundle (another 4xx): sending it again
                will not help.
            HealthRecordUnavailable: the server is down, slow, failing or answers garbage.
        """
        body = json.dumps(bundle, ensure_ascii=False).encode("utf-8")
        response = self._send("POST", "", {}, body)
        if 400 <= response.status_code < 500:
            detail = _outcome_text(response)
            raise TransactionRejected(f"The health record server refused the transaction "
                                      f"({response.status_code}{': ' + detail if detail else ''})"
                                      ".", status=response.status_code)
        if response.status_code >= 300:
            raise HealthRecordUnavailable(f"The health record server answered "
                                          f"{response.status_code}.")
        try:
            data = response.json()
        except ValueError as e:
            raise HealthRecordUnavailable("The health record server's answer is not JSON.") from e
        if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
            raise HealthRecordUnavailable("The health record server's answer is not a "
                                          "transaction-response Bundle.")
        return data

    def _get(self, path: str, params: dict[str, str]) -> httpx.Response:
        return self._send("GET", path, params, None)

    def _send(self, method: str, path: str, params: dict[str, str],
              body: bytes | None) -> httpx.Response:
        attempt = 0
        while True:
            response: httpx.Response | None = None
            error: Exception | None = None
            try:
                if body is None:
                    response = self._http.request(method, path, params=params)
                else:
                    response = self._http.request(method, path, params=params, content=body,
                                                  headers={"Content-Type": FHIR_JSON})
            except httpx.TimeoutException as e:
                failure, error = "did not answer in time", e
            except httpx.TransportError as e:
                failure, error = "cannot be reached", e
            else:
                if response.status_code not in _RETRY_STATUSES:
                    return response
                failure = f"answered {response.status_code}"
            if attempt >= self.retries:
                raise HealthRecordUnavailable(
                    f"The health record server {failure} ({attempt + 1} attempts).",
                    retry_after=max(1, int(self.max_wait))) from error
            attempt += 1
            self._sleep(self._wait(attempt, response))

    def _wait(self, attempt: int, response: httpx.Response | None) -> float:
        wait: float = self.backoff * 2.0 ** (attempt - 1)
        if response is not None:
            try:
                wait = max(wait, float(str(response.headers.get("Retry-After", 0))))
            except ValueError:
                pass  # an HTTP-date Retry-After: keep our own backoff
        return min(wait, self.max_wait)
