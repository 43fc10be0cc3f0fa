"""Schema-based fuzzing (schemathesis, from the OpenAPI document) of the clinic verify and pull
endpoints: whatever the body, headers or grant, never a 5xx."""

# ruff: noqa: F811  (the shared fixtures are imported by name, then requested as arguments)
from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.app.clinic_scene import scene, verify  # noqa: F401
from tests.app.test_member_accounts import yen  # noqa: F401


def operations(app: Any) -> list[Any]:
    """The verify and pull operations of the app's OpenAPI document."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    return [schema["/api/v1/verify"]["POST"], schema["/api/v1/pull"]["GET"]]


@pytest.mark.slow
@pytest.mark.parametrize("operation", [0, 1], ids=["verify", "pull"])
def test_verify_and_pull_never_answer_5xx(app: Any, client: Any, scene: dict[str, Any],
                                          monkeypatch: pytest.MonkeyPatch,
                                          operation: int) -> None:
    for name in ("VERIFY_RATE_LIMIT", "VERIFY_CARD_RATE_LIMIT", "PULL_RATE_LIMIT"):
        monkeypatch.setitem(app.config, name, "100000 per minute")
    grant = verify(client, scene, presence={"pin": scene["pin"]}).get_json()["grant"]["token"]
    seen: set[int] = set()

    @given(case=operations(app)[operation].as_strategy())
    @settings(max_examples=80, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case: Any) -> None:
        headers = {**(case.headers or {}), **scene["headers"]}
        if case.path == "/api/v1/pull" and not (case.headers or {}).get("X-Pull-Grant"):
            headers["X-Pull-Grant"] = grant
        response = case.call(headers=headers)
        seen.add(response.status_code)
        assert response.status_code < 500, (case.path, case.body, response.text[:300])

    fuzz()
    assert seen - {429}, seen  # the requests were answered, not only rate-limited
