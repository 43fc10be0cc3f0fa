"""Demo data: clinics near the demo industrial parks, each with a printed API client login
that works, added once."""

from __future__ import annotations

from sqlalchemy import func, select

from app.models import Clinic, ClinicClient, ScannerDevice
from app.services import demo
from tests.app.test_health_feeds import TOKEN_URL, basic
from tests.conftest import config_cipher


def test_demo_clinics_with_working_printed_logins_once(client, session) -> None:
    first = demo.load(session, config_cipher())
    session.commit()
    assert "5 clinics" in first.created and "5 clinic API clients" in first.created
    lines = "\n".join(first.lines())
    assert {c.province_code for c in session.scalars(select(Clinic))} == {
        u["province_code"] for u in demo.DEMO_UNIONS}
    for spec in demo.DEMO_CLINICS:
        client_id, secret = demo.demo_clinic_login(spec["facility_code"])
        assert client_id in lines and secret in lines
        token = client.post(TOKEN_URL, data={"grant_type": "client_credentials"},
                            headers=basic(client_id, secret))
        assert token.status_code == 200, token.get_json()
        me = client.get("/api/v1/clinics/me", headers={
            "Authorization": f"Bearer {token.get_json()['access_token']}"}).get_json()
        assert (me["facility_code"], me["name"]) == (spec["facility_code"], spec["name"])
    counts = [session.scalar(select(func.count()).select_from(t))
              for t in (Clinic, ClinicClient, ScannerDevice)]
    assert counts == [5, 5, 5]
    again = demo.load(session, config_cipher())
    session.commit()
    assert again.created == []
    assert [line for line in again.lines() if "clinic-" in line] == [
        line for line in first.lines() if "clinic-" in line]
    assert counts == [session.scalar(select(func.count()).select_from(t))
                      for t in (Clinic, ClinicClient, ScannerDevice)]
    assert any(login[0] == "clinic" for login in again.logins)
