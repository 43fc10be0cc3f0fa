"""An administrator cannot disable their own account (and so lock the office out by mistake)."""

from __future__ import annotations

from typing import Any


def test_an_administrator_cannot_disable_themselves(client: Any, factory: Any) -> None:
    admin = factory.user(role="admin", username="nat.admin")
    headers = factory.headers(admin)
    response = client.post(f"/api/v1/users/{admin.id}/disable", headers=headers)
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    assert "your own account" in response.get_json()["detail"]
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
