"""Drafts in Chromium (issue 14 item 6): the agency edits every field of a draft with three lots, adds a
fourth, saves, and deletes another draft from its page after confirming."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from bidding.models import Lot, Tender
from core import clock
from core.roles import Role
from tests.e2e.test_custodian_key import _draft
from tests.e2e.test_pages import sign_in
from tests.e2e.test_tender_pages import local

pytestmark = pytest.mark.e2e


def test_the_agency_edits_a_drafts_lots_and_timeline_then_deletes_a_draft(page, people, session):
    agent = people.user(Role.AGENCY, "draft-agent")
    tenderee = people.org("tenderee", "县人民医院")
    kept = _draft(session, agent, tenderee)
    doomed = _draft(session, agent, tenderee)
    sign_in(page, people, agent)
    page.click("nav a[href='/agency/tenders']")
    page.click(f"tr:has-text('{kept.code}') a")
    page.click("#edit-draft")
    page.fill("#title", "县医院污水处理站改造工程（修改）")
    page.fill("#region", "河北省")
    page.fill("#description", "修改后的公告正文")
    page.check("#state_controlled")
    new_deadline = clock.now() + timedelta(days=40)
    page.fill("#bid_deadline", local(new_deadline))
    for n, (name, estimate) in enumerate([("土建", "1000000"), ("安装", "800000"), ("设备", "500000")]):
        page.fill(f"#lots-{n}-name", name)
        page.fill(f"#lots-{n}-estimate", estimate)
        page.fill(f"#lots-{n}-deposit", "10000")
    page.click("#tender-form button[type=submit]")
    expect(page.locator(".flash-success")).to_be_visible()
    expect(page.locator("h1")).to_have_text("县医院污水处理站改造工程（修改）")
    # Edit again: the three lots are there, with room for a fourth.
    page.click("#edit-draft")
    expect(page.locator("#lots-2-name")).to_have_value("设备")
    page.fill("#lots-3-name", "监理")
    page.fill("#lots-3-estimate", "200000")
    page.click("#tender-form button[type=submit]")
    expect(page.locator(".flash-success")).to_be_visible()
    session.rollback()
    names = session.scalars(select(Lot.name).where(Lot.tender_id == kept.id).order_by(Lot.number)).all()
    assert names == ["土建", "安装", "设备", "监理"]
    session.expire_all()
    row = session.get(Tender, kept.id)
    assert row.region == "河北省" and row.state_controlled
    assert clock.local(row.bid_deadline).strftime("%Y-%m-%dT%H:%M") == local(new_deadline)

    page.click("nav a[href='/agency/tenders']")
    page.click(f"tr:has-text('{doomed.code}') a")
    page.click("#delete-draft")
    expect(page.locator("h1")).to_have_text("删除草稿")
    page.click("#delete-draft-form button[type=submit]")
    expect(page.locator(".flash-success")).to_contain_text(doomed.code)
    expect(page.locator("table")).not_to_contain_text(doomed.code)
    session.rollback()
    assert session.scalars(select(Tender.code)).all() == [kept.code]
