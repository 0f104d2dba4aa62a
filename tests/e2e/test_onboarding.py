"""A centre starting from nothing (issue 14): `flask users create-admin` is the only command; everything
else happens in Chromium from the dashboard. The administrator onboards an agency, a tenderee, a
supervising authority and a notary office with one person each; each person replaces the administrator's
password, enrols the second factor and makes a custodian key in the page; the agency then publishes a
tender with the three custodians (R-B4)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from accounts import totp
from accounts.credit_code import _org_code_check, check_character
from core import clock
from tests.e2e.test_tender_pages import local, sign_out

pytestmark = pytest.mark.e2e

FIRST = "Initial-password-2026"
OWN = "Own-choice-password-7391"
ORGANISATIONS = (  # kind, name, user name, person
    ("agency", "华信工程招标代理有限公司", "liqiang", "李强"),
    ("tenderee", "县人民医院", "zhoumin", "周敏"),
    ("authority", "县公共资源交易监督管理局", "sunwei", "孙伟"),
    ("notary", "县公证处", "zhaolei", "赵磊"),
)


def _credit_code(n: int) -> str:
    """A unified social credit code that passes both check characters (GB 32100, GB 11714)."""
    org8 = f"{n:08d}"
    body = "91110108" + org8 + _org_code_check(org8)
    return body + check_character(body)


def _sign_in_first_time(page: Page, username: str, password: str) -> None:
    """Password, then whatever the platform asks on a first sign-in, in the order it asks."""
    page.goto("/")
    page.click("a[href='/sign-in']")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#sign-in-form button[type=submit]")
    for _step in range(4):
        page.wait_for_load_state()
        if page.locator("#enrol-form").count():
            secret = page.inner_text("#totp-secret").replace(" ", "")
            page.fill("#enrol-form input[name=code]", totp.code_at(secret))
            page.click("#enrol-form button[type=submit]")
        elif page.locator("#recovery-continue").count():
            expect(page.locator("#recovery-codes li")).to_have_count(10)
            page.click("#recovery-continue")
        elif page.locator("#first-password-form").count():
            page.fill("#new", OWN)
            page.fill("#confirm", OWN)
            page.click("#first-password-form button[type=submit]")
        else:
            break
    expect(page).to_have_url(re.compile(r".*/dashboard$"))


def _make_custodian_key(page: Page, folder: Path, username: str) -> None:
    page.click("#todo-custodian-key a")  # the dashboard's to-do leads to the page
    page.click("#keygen-generate")
    expect(page.locator("#custodian-key-form input[name=recipient]")).to_have_value(re.compile(r"^age1"))
    with page.expect_download() as download:
        page.click("#keygen-save")
    download.value.save_as(folder / f"{username}.key")
    page.check("#keygen-saved")
    page.click("#custodian-key-form button[type=submit]")
    expect(page.locator(".flash-success")).to_be_visible()
    page.click("nav >> a[href='/dashboard']")
    expect(page.locator("#todo-custodian-key")).to_have_count(0)


def test_a_centre_starts_from_nothing_in_the_browser(page, runner, tmp_path):
    created = runner.invoke(
        args=[
            "users",
            "create-admin",
            "--username",
            "ops",
            "--email",
            "ops@example.cn",
            "--org-name",
            "县公共资源交易中心",
            "--credit-code",
            _credit_code(1),
            "--password",
            "Trading-Hall-4821!",
        ]
    )
    assert created.exit_code == 0, created.output

    # The administrator: second factor at the first sign-in, then organisations and their people.
    _sign_in_first_time(page, "ops", "Trading-Hall-4821!")
    for n, (kind, name, username, person) in enumerate(ORGANISATIONS, start=2):
        page.click("nav >> a[href='/admin/organizations']")
        page.click("#new-organization")
        page.fill("#name", name)
        page.fill("#credit_code", _credit_code(n))
        page.select_option("#kind", kind)
        page.click("#organization-form button[type=submit]")
        expect(page.locator("h1")).to_have_text(name)
        page.click("#add-person")
        page.fill("#username", username)
        page.fill("#display_name", person)
        page.fill("#email", f"{username}@example.cn")
        page.fill("#password", FIRST)
        page.click("#user-form button[type=submit]")
        expect(page.locator("main")).to_contain_text(person)
    sign_out(page)

    # Each person: their own password, their second factor, and (custodians) a key made in the page.
    for username in ("zhoumin", "sunwei", "zhaolei", "liqiang"):  # the agency last: it publishes next
        _sign_in_first_time(page, username, FIRST)
        if username != "zhoumin":  # the tenderee holds no share of the opening key
            _make_custodian_key(page, tmp_path, username)
        if username != "liqiang":
            sign_out(page)

    # The agency publishes its first tender, the three custodians from three organisations (R-B4).
    page.click("main a[href='/agency/tenders/new']")
    start = clock.now() + timedelta(days=1)
    page.fill("#title", "县人民医院住院楼装修工程")
    page.fill("#category", "装饰装修")
    page.fill("#estimate", "8000000")
    page.fill("#deposit", "100000")
    for field, days in (
        ("documents_from", 0),
        ("documents_to", 7),
        ("clarification_deadline", 8),
        ("objection_deadline", 14),
        ("bid_deadline", 24),
    ):
        page.fill(f"#{field}", local(start + timedelta(days=days)))
    page.fill("#lots-0-name", "一标段")
    page.fill("#lots-0-estimate", "8000000")
    page.fill("#lots-0-deposit", "100000")
    page.click("#tender-form button[type=submit]")
    expect(page.locator("h1")).to_have_text("县人民医院住院楼装修工程")
    documents = tmp_path / "招标文件.pdf"
    documents.write_bytes("第一章 招标公告".encode())
    page.set_input_files("#document-form input[type=file]", str(documents))
    page.click("#document-form button[type=submit]")
    expect(page.locator("#custodians-missing")).to_have_count(0)  # every custodian has a key
    page.select_option("#publish-form select[name=supervisor]", "sunwei")
    page.select_option("#publish-form select[name=notary]", "zhaolei")
    page.click("#publish-form button[type=submit]")
    expect(page.locator("#opening-key")).to_contain_text("age1")
