"""Sign-in with the second factor, the language switch, and the supervisor's audit page (issue 2 item 7)."""

import re

import pytest
from playwright.sync_api import expect

from core.roles import Role
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e


def sign_in(page, people, user):
    page.goto("/sign-in")
    page.fill("#username", user.username)
    page.fill("#password", PASSWORD)
    page.click("#sign-in-form button[type=submit]")
    if user.username in people.secrets:
        expect(page).to_have_url(re.compile(r".*/sign-in/code$"))
        page.fill("#code", people.code(user))
        page.click("#code-form button[type=submit]")
    expect(page).to_have_url(re.compile(r".*/dashboard$"))


def test_agency_signs_in_with_totp(page, people):
    user = people.user(Role.AGENCY, "agency-e2e")
    page.goto("/sign-in")
    page.fill("#username", user.username)
    page.fill("#password", PASSWORD)
    page.click("#sign-in-form button[type=submit]")
    expect(page.locator("h1")).to_have_text("输入动态口令")
    page.fill("#code", "000000" if people.code(user) != "000000" else "111111")
    page.click("#code-form button[type=submit]")
    expect(page.locator(".flash-error")).to_be_visible()
    page.fill("#code", people.code(user))
    page.click("#code-form button[type=submit]")
    expect(page.locator("h1")).to_have_text("工作台")
    expect(page.locator(".who")).to_contain_text("agency-e2e")


def test_language_switch(page, people):
    page.goto("/sign-in")
    expect(page.locator("h1")).to_have_text("登录")
    page.click("#lang-switch")
    expect(page.locator("h1")).to_have_text("Sign in")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.click("#lang-switch")
    expect(page.locator("h1")).to_have_text("登录")


def test_supervisor_filters_and_verifies_the_audit_log(page, people):
    tenderer = people.user(Role.TENDERER, "bidder-e2e")
    supervisor = people.user(Role.SUPERVISOR, "sup-e2e")
    sign_in(page, people, tenderer)
    page.click("form[action='/sign-out'] button")
    sign_in(page, people, supervisor)
    page.click("a[href='/audit/']")
    expect(page.locator("#audit-entries li").first).to_be_visible()
    # the test app's log origin (tests/conftest.py)
    expect(page.locator("#checkpoint")).to_contain_text("sunbid.test/")
    page.select_option("#action", "accounts.signed_in")
    page.click("#audit-filter button[type=submit]")
    rows = page.locator("#audit-entries li")
    expect(rows).to_have_count(2)  # the tenderer's and the supervisor's sign-ins, in words (R-R1)
    expect(rows.first).to_contain_text("sup-e2e")
    expect(rows.first).to_contain_text("登录")
    expect(rows.first).not_to_contain_text("accounts.signed_in")
    page.click("#verify-button")
    expect(page.locator("div.flash-success")).to_contain_text("日志验证通过：共 7 条记录")
