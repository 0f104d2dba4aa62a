"""Admins keep the holiday calendar (R-T6) and the interest rates (R-D3, R-D4)."""

from datetime import date, timedelta

from bidding.calendar import Calendar
from bidding.models import InterestRate
from core import clock
from core.roles import Role
from tests.factories import PASSWORD


def test_admin_marks_a_holiday_and_the_day_count_moves(client, people, session):
    admin = people.user(Role.ADMIN, "cal-admin")
    headers = {"Authorization": f"Bearer {people.token(client, admin)}"}
    monday = date(2027, 2, 8)
    assert Calendar.load(session).period_end(monday - timedelta(days=20), 20) == monday
    response = client.put(
        f"/api/v1/calendar/{monday}", json={"kind": "holiday", "name": "春节"}, headers=headers
    )
    assert response.status_code == 200
    session.rollback()
    assert Calendar.load(session).period_end(monday - timedelta(days=20), 20) == monday + timedelta(days=1)
    assert client.get("/api/v1/calendar").get_json()["items"][0]["name"] == "春节"
    bad = client.put("/api/v1/calendar/2027-13-01", json={"kind": "holiday"}, headers=headers)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_date"


def test_rates_are_set_by_admins_only(client, people, session):
    admin, tenderer = people.user(Role.ADMIN, "rate-admin"), people.user(Role.TENDERER, "rate-t")
    refused = client.put(
        "/api/v1/interest-rates/deposit/2026-01-01",
        json={"annual_bps": 35},
        headers={"Authorization": f"Bearer {people.token(client, tenderer)}"},
    )
    assert refused.status_code == 403
    headers = {"Authorization": f"Bearer {people.token(client, admin)}"}
    assert (
        client.put(
            "/api/v1/interest-rates/deposit/2026-01-01", json={"annual_bps": 35}, headers=headers
        ).status_code
        == 200
    )
    clock.advance(timedelta(seconds=31))
    assert (
        client.put(
            "/api/v1/interest-rates/lending/2026-01-01",
            json={"annual_bps": 1.5},
            headers={"Authorization": f"Bearer {people.token(client, admin)}"},
        ).status_code
        == 422
    )
    session.rollback()
    assert session.get(InterestRate, ("deposit", date(2026, 1, 1))).annual_bps == 35


def test_calendar_page(client, people):
    admin = people.user(Role.ADMIN, "cal-page")
    client.post("/sign-in", data={"username": admin.username, "password": PASSWORD})
    client.post("/sign-in/code", data={"code": people.code(admin)})
    response = client.post(
        "/admin/calendar", data={"form": "day", "day": "2027-10-01", "kind": "holiday", "name": "国庆节"}
    )
    assert response.status_code == 302
    assert "国庆节" in client.get("/admin/calendar").get_data(as_text=True)
