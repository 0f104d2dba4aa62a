"""The main tendering path in Chromium: the agency drafts a tender, attaches its documents and publishes
it (R-T1, R-T2 checked at publication); a tenderer downloads the documents and asks a question; the
agency answers it to everyone, and the tenderer reads the answer and the notification."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from accounts import services as accounts
from core import clock
from core.roles import Role
from crypto import age
from tests.e2e.test_pages import sign_in

pytestmark = pytest.mark.e2e


def local(moment) -> str:
    return clock.local(moment).strftime("%Y-%m-%dT%H:%M")


def sign_out(page):
    page.click("form[action='/sign-out'] button")
    clock.advance(timedelta(seconds=31))  # the next sign-in's code falls in a fresh TOTP step


def test_agency_publishes_tenderer_downloads_and_asks(page, people, session, tmp_path):
    agent = people.user(Role.AGENCY, "e2e-agent")
    supervisor = people.user(Role.SUPERVISOR, "e2e-sup")
    notary = people.user(Role.NOTARY, "e2e-notary")
    people.org("tenderee", "县人民医院")
    for user in (agent, supervisor, notary):
        accounts.set_custodian_key(session, user, str(age.generate_identity().recipient))
    session.commit()
    tenderer = people.user(Role.TENDERER, "e2e-bidder")

    sign_in(page, people, agent)
    page.goto("/agency/tenders/new")
    start = clock.now() + timedelta(days=1)
    page.fill("#title", "县人民医院住院楼装修工程")
    page.fill("#category", "装饰装修")
    page.fill("#estimate", "8000000")
    page.fill("#deposit", "100000")
    for name, days in (
        ("documents_from", 0),
        ("documents_to", 7),
        ("clarification_deadline", 8),
        ("objection_deadline", 14),
        ("bid_deadline", 24),
    ):
        page.fill(f"#{name}", local(start + timedelta(days=days)))
    page.fill("#lots-0-name", "一标段")
    page.fill("#lots-0-estimate", "8000000")
    page.fill("#lots-0-deposit", "100000")
    page.click("#tender-form button[type=submit]")
    expect(page.locator("h1")).to_have_text("县人民医院住院楼装修工程")

    documents = tmp_path / "招标文件.pdf"
    documents.write_bytes("第一章 招标公告".encode())
    page.set_input_files("#document-form input[type=file]", str(documents))
    page.click("#document-form button[type=submit]")
    expect(page.locator("#document-list")).to_contain_text("招标文件.pdf")
    page.select_option("#publish-form select[name=supervisor]", "e2e-sup")
    page.select_option("#publish-form select[name=notary]", "e2e-notary")  # three organisations (R-B4)
    page.click("#publish-form button[type=submit]")
    expect(page.locator("#opening-key")).to_contain_text("age1")
    notice_url = page.url
    sign_out(page)

    clock.advance(timedelta(days=1, hours=1))  # the documents are out
    sign_in(page, people, tenderer)
    page.goto(notice_url)
    with page.expect_download() as download:
        page.click("#document-list a:has-text('招标文件.pdf')")
    assert download.value.suggested_filename == "招标文件.pdf"
    page.fill("#question-form textarea", "装修期间是否需要保持门诊正常运营？")
    page.click("#question-form button[type=submit]")
    expect(page.locator(".flash-success")).to_be_visible()
    sign_out(page)

    sign_in(page, people, agent)
    page.goto(notice_url)
    expect(page.locator("#downloads summary")).to_contain_text("1")
    page.fill("#questions .answer-form textarea", "需要，施工须分区进行，保证门诊正常运营。")
    page.click("#questions .answer-form button[type=submit]")
    expect(page.locator("#document-list")).to_contain_text("保证门诊正常运营")
    sign_out(page)

    sign_in(page, people, tenderer)
    expect(page.locator("#bell .badge")).to_have_text("1 条未读")
    page.click("#bell")
    expect(page.locator("#notifications")).to_contain_text("保证门诊正常运营")
    page.goto(notice_url)
    expect(page.locator("#questions")).to_contain_text(re.compile("已答复|answered"))
