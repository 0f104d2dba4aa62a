"""Tender pages: the agency drafts and publishes through the forms; the portal shows the notice."""

import io
import re
from datetime import timedelta

from sqlalchemy import select

from accounts import services as accounts
from bidding.models import Tender
from core import clock
from core.roles import Role
from crypto import age
from tests.factories import PASSWORD


def sign_in(client, people, user):
    client.post("/sign-in", data={"username": user.username, "password": PASSWORD})
    if user.username in people.secrets:
        client.post("/sign-in/code", data={"code": people.code(user)})


def local(moment):
    return clock.local(moment).strftime("%Y-%m-%dT%H:%M")


def test_agency_drafts_edits_and_publishes_in_the_pages(client, people, session):
    agent = people.user(Role.AGENCY, "page-agent")
    supervisor = people.user(Role.SUPERVISOR, "page-sup")
    notary = people.user(Role.NOTARY, "page-notary")
    tenderee = people.org("tenderee", "县教育局")
    for user in (agent, supervisor, notary):
        accounts.set_custodian_key(session, user, str(age.generate_identity().recipient))
    session.commit()
    sign_in(client, people, agent)
    start = clock.now() + timedelta(days=1)
    form = {
        "title": "县第一中学教学楼建设",
        "track": "works",
        "category": "房屋建筑",
        "region": "县城",
        "tenderee_id": str(tenderee.id),
        "estimate": "12,345,678.90",
        "deposit": "200000",
        "documents_from": local(start),
        "documents_to": local(start + timedelta(days=7)),
        "clarification_deadline": local(start + timedelta(days=8)),
        "objection_deadline": local(start + timedelta(days=14)),
        "bid_deadline": local(start + timedelta(days=24)),
        "lots-0-name": "一标段",
        "lots-0-estimate": "12000000",
        "lots-0-deposit": "200000",
    }
    response = client.post("/agency/tenders/new", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    tender = session.scalars(select(Tender)).one()
    assert tender.estimated_price_fen == 1_234_567_890 and tender.lots[0].deposit_fen == 20_000_000
    assert clock.local(tender.bid_deadline).strftime("%H:%M") == clock.local(start).strftime("%H:%M")
    edit = client.get(f"/agency/tenders/{tender.id}/edit").get_data(as_text=True)
    assert "12345678.90" in edit
    refused = client.post(
        f"/agency/tenders/{tender.id}/publish", data={"supervisor": "page-sup", "notary": "page-notary"}
    )
    flashed = client.get(refused.headers["Location"]).get_data(as_text=True)
    # The missing documents named in words with their rule (R-T2), not as codes.
    assert re.search(r"(招标文件|Tender documents)\W.*R-T2", flashed), flashed[flashed.find("flash") :][:500]
    client.post(
        f"/agency/tenders/{tender.id}/documents",
        data={"title": "招标文件", "file": (io.BytesIO("第一章 招标公告".encode()), "招标文件.pdf")},
        content_type="multipart/form-data",
    )
    response = client.post(
        f"/agency/tenders/{tender.id}/publish", data={"supervisor": "page-sup", "notary": "page-notary"}
    )
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    session.rollback()
    assert session.get(Tender, tender.id).status == "published"
    assert "招标文件.pdf" in page and '/statement"' in page  # the platform-signed issuance statement
    assert 'id="opening-key">age1' in page
    portal = client.get("/tenders?q=教学楼").get_data(as_text=True)
    assert "县第一中学教学楼建设" in portal


def test_money_with_more_than_two_decimals_is_refused(client, people):
    agent = people.user(Role.AGENCY, "decimals")
    tenderee = people.org("tenderee")
    sign_in(client, people, agent)
    response = client.post(
        "/agency/tenders/new",
        data={
            "title": "测试项目名称",
            "track": "works",
            "category": "x",
            "tenderee_id": str(tenderee.id),
            "estimate": "1.234",
        },
    )
    assert response.status_code == 200  # the form again, nothing saved
    assert "最多两位小数" in response.get_data(as_text=True)


def test_drafts_are_invisible_to_others(client, people, session):
    agent = people.user(Role.AGENCY, "hider")
    tenderee = people.org("tenderee")
    sign_in(client, people, agent)
    client.post(
        "/agency/tenders/new",
        data={
            "title": "尚未公开的项目",
            "track": "works",
            "category": "x",
            "tenderee_id": str(tenderee.id),
            "estimate": "1000",
        },
    )
    tender = session.scalars(select(Tender)).one()
    client.post("/sign-out")
    assert client.get(f"/tenders/{tender.id}").status_code == 404
    assert "尚未公开的项目" not in client.get("/tenders").get_data(as_text=True)


def test_a_deposit_over_the_cap_is_refused_on_the_form_in_words(client, people):
    """R-D1 on the new-tender form: the problem names the field and the limit in the page's language,
    never the API's code."""
    agent = people.user(Role.AGENCY, "over-cap")
    tenderee = people.org("tenderee")
    sign_in(client, people, agent)
    response = client.post(
        "/agency/tenders/new",
        data={
            "title": "保证金超限的项目",
            "track": "works",
            "category": "x",
            "tenderee_id": str(tenderee.id),
            "estimate": "1000000",
            "deposit": "30000",
        },
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    problems = page[page.index('id="form-errors"') :][:1000]
    assert "保证金" in problems and "¥20,000.00" in problems and "R-D1" in problems
    assert "deposit_over_cap" not in page and "lots[1]" not in page
