"""The test FHIR R4 server (see the package's doc). Standard library only.

Base URL ``http://127.0.0.1:PORT/fhir``:

- ``GET /fhir/metadata``: a CapabilityStatement;
- ``POST /fhir`` with a ``transaction`` Bundle: every entry checked (a resource, a request
  ``POST`` to the resource's type, ``ifNoneExist`` of the form ``identifier=system|value``),
  conditional creates honoured (an existing match is answered ``200 OK`` and reused, never
  created again), ``urn:uuid:`` references resolved, all stored at once or nothing (400 with an
  OperationOutcome);
- ``GET /fhir/{type}?identifier=system|value`` (or no parameter: all of the type): a searchset;
  ``GET /fhir/{type}/{id}``; ``GET /fhir/Patient/{id}/$summary``: a minimal document Bundle;
- ``POST /_admin/fail?count=N&status=503``: answer the next N FHIR requests with that status;
  ``POST /_admin/stall?count=N&seconds=S``: store the next N transactions, then wait S seconds
  before answering (a client's timeout fires after the server stored it);
  ``GET /_admin/stats``: requests and transactions seen since start.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FHIR_JSON = "application/fhir+json"
_IF_NONE_EXIST = re.compile(r"identifier=([^|&]+)\|([^&]+)")
_TYPE = re.compile(r"[A-Z][A-Za-z]{1,40}")


class Store:
    """The resources, by type and id, kept in a JSON file (written atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.data: dict[str, dict[str, Any]] = (json.loads(path.read_text("utf-8"))
                                                if path.exists() else {})

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, ensure_ascii=False), "utf-8")
        os.replace(tmp, self.path)

    def find(self, kind: str, system: str, value: str) -> list[dict[str, Any]]:
        return [r for r in self.data.get(kind, {}).values()
                if any(i.get("system") == system and i.get("value") == value
                       for i in r.get("identifier") or ())]


class Faults:
    """The failures and stalls the tests asked for."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.fail_count = 0
        self.fail_status = 503
        self.stall_count = 0
        self.stall_seconds = 0.0
        self.requests = 0
        self.transactions = 0

    def take_failure(self) -> int | None:
        with self.lock:
            self.requests += 1
            if self.fail_count > 0:
                self.fail_count -= 1
                return self.fail_status
            return None

    def take_stall(self) -> float:
        with self.lock:
            if self.stall_count > 0:
                self.stall_count -= 1
                return self.stall_seconds
            return 0.0


def outcome(detail: str, code: str = "invalid") -> dict[str, Any]:
    return {"resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": detail}]}


class Rejected(Exception):
    pass


def _resolve(value: Any, urls: dict[str, str]) -> Any:
    if isinstance(value, dict):
        out = {k: _resolve(v, urls) for k, v in value.items()}
        ref = out.get("reference")
        if isinstance(ref, str) and ref.startswith("urn:uuid:"):
            if ref not in urls:
                raise Rejected(f"reference {ref} names no entry of the Bundle")
            out["reference"] = urls[ref]
        return out
    if isinstance(value, list):
        return [_resolve(v, urls) for v in value]
    return value


def transact(store: Store, bundle: Any) -> dict[str, Any]:
    """Apply a transaction Bundle; its transaction-response.

    Raises:
        Rejected: the Bundle is not a valid transaction (nothing is stored).
    """
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise Rejected("not a Bundle")
    if bundle.get("type") != "transaction":
        raise Rejected("Bundle.type must be transaction")
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        raise Rejected("a transaction needs entries")
    with store.lock:
        data = json.loads(json.dumps(store.data))  # all or nothing
        urls: dict[str, str] = {}
        plan: list[tuple[str, str, dict[str, Any], bool]] = []
        for i, entry in enumerate(entries):
            resource = entry.get("resource") if isinstance(entry, dict) else None
            request = entry.get("request") if isinstance(entry, dict) else None
            if not isinstance(resource, dict) or not isinstance(request, dict):
                raise Rejected(f"entry[{i}] needs a resource and a request")
            kind = resource.get("resourceType")
            if not isinstance(kind, str) or not _TYPE.fullmatch(kind):
                raise Rejected(f"entry[{i}].resource.resourceType is missing")
            if request.get("method") != "POST" or request.get("url") != kind:
                raise Rejected(f"entry[{i}].request must be POST {kind}")
            existing: list[dict[str, Any]] = []
            condition = request.get("ifNoneExist")
            if condition is not None:
                match = _IF_NONE_EXIST.fullmatch(str(condition))
                if match is None:
                    raise Rejected(f"entry[{i}].request.ifNoneExist must be "
                                   "identifier=system|value")
                system, value = match.group(1), match.group(2)
                existing = [r for r in data.get(kind, {}).values()
                            if any(x.get("system") == system and x.get("value") == value
                                   for x in r.get("identifier") or ())]
                if len(existing) > 1:
                    raise Rejected(f"entry[{i}]: ifNoneExist matches {len(existing)}")
            rid = existing[0]["id"] if existing else uuid.uuid4().hex[:16]
            full_url = entry.get("fullUrl")
            if isinstance(full_url, str):
                urls[full_url] = f"{kind}/{rid}"
            plan.append((kind, rid, resource, bool(existing)))
        responses = []
        for kind, rid, resource, found in plan:
            if not found:
                stored = _resolve(resource, urls)
                stored["id"] = rid
                stored["meta"] = {"versionId": "1",
                                  "lastUpdated": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                                               time.gmtime())}
                data.setdefault(kind, {})[rid] = stored
            responses.append({"response": {"status": "200 OK" if found else "201 Created",
                                           "location": f"{kind}/{rid}/_history/1"}})
        store.data = data
        store.save()
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": responses}


def make_handler(store: Store, faults: Faults) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", FHIR_JSON)
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/_admin/stats":
                self._answer(200, {"requests": faults.requests,
                                   "transactions": faults.transactions,
                                   "resources": {k: len(v) for k, v in store.data.items()}})
                return
            failure = faults.take_failure()
            if failure is not None:
                self._answer(failure, outcome("failing as asked", "transient"))
                return
            parts = [p for p in url.path.split("/") if p]
            if parts[:1] != ["fhir"]:
                self._answer(404, outcome("not found", "not-found"))
                return
            parts = parts[1:]
            if parts == ["metadata"]:
                self._answer(200, {"resourceType": "CapabilityStatement", "status": "active",
                                   "kind": "instance", "fhirVersion": "4.0.1",
                                   "format": ["json"]})
                return
            if len(parts) == 1 and _TYPE.fullmatch(parts[0]):
                query = parse_qs(url.query)
                with store.lock:
                    if "identifier" in query:
                        system, _, value = query["identifier"][0].partition("|")
                        found = store.find(parts[0], system, value)
                    else:
                        found = list(store.data.get(parts[0], {}).values())
                self._answer(200, {"resourceType": "Bundle", "type": "searchset",
                                   "total": len(found),
                                   "entry": [{"resource": r, "search": {"mode": "match"}}
                                             for r in found]})
                return
            if len(parts) in (2, 3) and _TYPE.fullmatch(parts[0]):
                resource = store.data.get(parts[0], {}).get(parts[1])
                if resource is None:
                    self._answer(404, outcome("no such resource", "not-found"))
                elif len(parts) == 3 and parts[2] == "$summary" and parts[0] == "Patient":
                    self._answer(200, {"resourceType": "Bundle", "type": "document",
                                       "entry": [{"fullUrl": f"Patient/{parts[1]}",
                                                  "resource": resource}]})
                elif len(parts) == 2:
                    self._answer(200, resource)
                else:
                    self._answer(404, outcome("unknown operation", "not-supported"))
                return
            self._answer(404, outcome("not found", "not-found"))

        def do_POST(self) -> None:
            url = urlsplit(self.path)
            body = self._body()
            if url.path.startswith("/_admin/"):
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                with faults.lock:
                    if url.path == "/_admin/fail":
                        faults.fail_count = int(query.get("count", "1"))
                        faults.fail_status = int(query.get("status", "503"))
                    elif url.path == "/_admin/stall":
                        faults.stall_count = int(query.get("count", "1"))
                        faults.stall_seconds = float(query.get("seconds", "5"))
                self._answer(200, {"ok": True})
                return
            failure = faults.take_failure()
            if failure is not None:
                self._answer(failure, outcome("failing as asked", "transient"))
                return
            if url.path.rstrip("/") != "/fhir":
                self._answer(404, outcome("POST a transaction Bundle to the base URL"))
                return
            if (self.headers.get("Content-Type") or "").split(";")[0] not in (
                    FHIR_JSON, "application/json"):
                self._answer(415, outcome("send application/fhir+json"))
                return
            try:
                bundle = json.loads(body)
                answer = transact(store, bundle)
            except (ValueError, Rejected) as exc:
                self._answer(400, outcome(str(exc)))
                return
            with faults.lock:
                faults.transactions += 1
            stall = faults.take_stall()
            if stall:
                time.sleep(stall)
            self._answer(200, answer)

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--store", type=Path, required=True)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port),
                                 make_handler(Store(args.store), Faults()))
    server.daemon_threads = True
    print(f"ready {args.port}", flush=True)
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
