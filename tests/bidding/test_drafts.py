"""Draft tenders: every field edits through the page and the API, lots included; GET returns what PATCH
accepts; bad input is a 422 naming the field; a draft can be deleted (issue 14 item 6)."""

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from audit.models import AuditEntry
from bidding.models import Lot, Tender, TenderDocument
from core import clock
from tests.bidding.test_tenders import auth, body, draft, publish
from tests.factories import PASSWORD


def fen(amount: int) -> dict:
    return {"amount_fen": amount, "currency": "CNY"}


def _get(client, people, cast, tender_id):
    response = client.get(f"/api/v1/tenders/{tender_id}", headers=auth(people, client, cast["agent"]))
    clock.advance(timedelta(seconds=31))
    assert response.status_code == 200
    return response.get_json()


def _patch(client, people, cast, tender_id, changes):
    response = client.patch(
        f"/api/v1/tenders/{tender_id}", json=changes, headers=auth(people, client, cast["agent"])
    )
    clock.advance(timedelta(seconds=31))
    return response


def test_get_returns_a_body_that_patch_accepts_unchanged(client, people, cast):
    created = draft(client, people, cast)
    before = _get(client, people, cast, created["id"])
    response = _patch(client, people, cast, created["id"], before)
    assert response.status_code == 200, response.get_json()
    after = response.get_json()
    for key in ("title", "track", "category", "region", "description", "tenderee_id", "estimated_price"):
        assert after[key] == before[key]
    assert after["lots"] == before["lots"] and after["timeline"] == before["timeline"]


def test_every_field_and_the_lots_edit_through_the_api(client, people, cast, session):
    created = draft(client, people, cast)
    start = clock.now().date() + timedelta(days=3)
    changes = body(cast["tenderee"], start, deadline_days=30, deposit_fen=1_000_000, estimate_fen=90_000_000)
    changes.update(
        title="市人民医院门诊楼改扩建工程（二次）",
        track="procurement",
        category="医疗设备",
        region="天津市",
        description="第二版公告正文",
        state_controlled=True,
        lots=[
            {"name": "一标段 土建", "estimated_price": fen(50_000_000), "deposit": fen(900_000)},
            {"name": "二标段 安装", "estimated_price": fen(30_000_000)},
            {"name": "三标段 设备", "estimated_price": fen(10_000_000), "deposit": fen(1)},
        ],
    )
    response = _patch(client, people, cast, created["id"], changes)
    assert response.status_code == 200, response.get_json()
    edited = _get(client, people, cast, created["id"])
    assert edited["title"] == "市人民医院门诊楼改扩建工程（二次）" and edited["track"] == "procurement"
    assert edited["state_controlled"] is True and edited["description"] == "第二版公告正文"
    assert [(lot["number"], lot["name"]) for lot in edited["lots"]] == [
        (1, "一标段 土建"),
        (2, "二标段 安装"),
        (3, "三标段 设备"),
    ]
    assert edited["timeline"]["documents_from"].startswith(start.isoformat())
    # Lots shrink again, and one field alone can be sent: the rest stays.
    shrink = _patch(client, people, cast, created["id"], {"lots": changes["lots"][1:2]})
    assert shrink.status_code == 200, shrink.get_json()
    assert [lot["name"] for lot in shrink.get_json()["lots"]] == ["二标段 安装"]
    assert shrink.get_json()["title"] == "市人民医院门诊楼改扩建工程（二次）"
    only_deadline = _patch(
        client, people, cast, created["id"], {"timeline": {"bid_deadline": "2027-01-20T09:00:00+08:00"}}
    )
    moved = datetime.fromisoformat(only_deadline.get_json()["timeline"]["bid_deadline"])
    assert moved == datetime(2027, 1, 20, 1, tzinfo=UTC)
    assert only_deadline.get_json()["timeline"]["documents_from"] == edited["timeline"]["documents_from"]
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Lot)) == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"title": "x"}, "title"),
        ({"title": 42}, "title"),
        ({"category": "类" * 65}, "category"),
        ({"region": "区" * 65}, "region"),
        ({"lots": ["一标段"]}, "lots[0]"),
        ({"lots": [{"name": "一标段", "estimated_price": {"amount_fen": 1.5}}]}, "lots[0].estimated_price"),
        ({"lots": [{"name": 7, "estimated_price": {"amount_fen": 100}}]}, "lots[0].name"),
        ({"lots": []}, "lots"),
        ({"timeline": "soon"}, "timeline"),
        ({"timeline": {"bid_deadline": "next Monday"}}, "timeline.bid_deadline"),
        ({"timeline": {"bid_deadline": "2027-01-20T09:00:00"}}, "timeline.bid_deadline"),
        ({"estimated_price": {"amount_fen": "lots"}}, "estimated_price"),
        ({"deposit": {"amount_fen": 1, "currency": "USD"}}, "deposit"),
        ({"state_controlled": "yes"}, "state_controlled"),
        ({"scoring_scheme": [1]}, "scoring_scheme"),
        ({"track": "services"}, "track"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_changes_nothing(client, people, cast, changes, field):
    created = draft(client, people, cast)
    response = _patch(client, people, cast, created["id"], changes)
    assert response.status_code == 422, response.get_json()
    details = response.get_json()["error"]["details"]
    named = [details.get("field"), *details.get("fields", [])]  # the service's, or the schema's paths
    assert any(name == field or str(name).startswith(field + ".") for name in named), details
    assert _get(client, people, cast, created["id"])["title"] == created["title"]


def test_a_draft_is_deleted_through_the_api_a_published_one_is_not(client, people, cast, session):
    created = draft(client, people, cast)
    headers = auth(people, client, cast["agent"])
    assert client.delete(f"/api/v1/tenders/{created['id']}", headers=headers).status_code == 204
    session.rollback()
    tender_id = uuid.UUID(created["id"])
    assert session.get(Tender, tender_id) is None
    assert session.scalar(select(func.count()).select_from(TenderDocument)) == 0
    assert session.scalar(select(func.count()).select_from(Lot)) == 0
    logged = session.scalars(select(AuditEntry).where(AuditEntry.action == "bidding.draft_deleted")).one()
    assert logged.target_id == created["id"]
    clock.advance(timedelta(seconds=31))
    published = draft(client, people, cast)
    assert publish(client, people, cast, published["id"]).status_code == 200
    refused = client.delete(f"/api/v1/tenders/{published['id']}", headers=auth(people, client, cast["agent"]))
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "tender_not_draft"


def _page_sign_in(client, people, user):
    client.post("/sign-in", data={"username": user.username, "password": PASSWORD})
    client.post("/sign-in/code", data={"code": people.code(user)})
    clock.advance(timedelta(seconds=31))


def test_editing_a_draft_with_three_lots_on_the_page_keeps_them_all(client, people, cast, session):
    created = draft(client, people, cast)
    lots = [{"name": f"{n}标段", "estimated_price": {"amount_fen": 10_000_000}} for n in range(1, 5)]
    assert _patch(client, people, cast, created["id"], {"lots": lots}).status_code == 200
    _page_sign_in(client, people, cast["agent"])
    form = client.get(f"/agency/tenders/{created['id']}/edit").get_data(as_text=True)
    assert 'value="4标段"' in form and 'id="lots-4-name"' in form  # every lot, and room for one more
    start = date.today()
    data = {
        "title": "门诊楼改扩建工程（页面修改）",
        "track": "works",
        "category": "房屋建筑",
        "region": "",
        "tenderee_id": str(cast["tenderee"].id),
        "estimate": "1000000.00",
        "deposit": "0",
        "description": "",
        "documents_from": f"{start + timedelta(days=2)}T09:00",
        "documents_to": f"{start + timedelta(days=9)}T17:00",
        "clarification_deadline": f"{start + timedelta(days=12)}T17:00",
        "objection_deadline": f"{start + timedelta(days=18)}T17:00",
        "bid_deadline": f"{start + timedelta(days=30)}T09:30",
    }
    for n, name in enumerate(["一标段", "二标段", "三标段"]):
        data[f"lots-{n}-name"], data[f"lots-{n}-estimate"] = name, "300000"
    saved = client.post(f"/agency/tenders/{created['id']}/edit", data=data)
    assert saved.status_code == 302, saved.get_data(as_text=True)[:2000]
    session.rollback()
    tender = session.get(Tender, uuid.UUID(created["id"]))
    assert [lot.name for lot in tender.lots] == ["一标段", "二标段", "三标段"]
    assert tender.title == "门诊楼改扩建工程（页面修改）"
    assert clock.local(tender.bid_deadline).strftime("%H:%M") == "09:30"
