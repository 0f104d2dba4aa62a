"""R-R3 in the browser: a supervisor records a collusion finding with evidence and a debarment, publishes
it, and an anonymous visitor finds it on the public list."""

import pytest
from playwright.sync_api import expect

from core.roles import Role
from tests.e2e.test_pages import sign_in

pytestmark = pytest.mark.e2e


def test_supervisor_records_and_publishes_and_the_public_sees_it(page, people, tmp_path):
    offender = people.org("tenderer", "浏览器串标建设有限公司")
    supervisor = people.user(Role.SUPERVISOR, "credit-e2e")
    evidence = tmp_path / "证据.txt"
    evidence.write_text("转账凭证")
    sign_in(page, people, supervisor)
    page.click("#nav-credit")
    page.click("#new-record")
    page.select_option("#subject_kind", "tenderer")
    page.fill("#subject", offender.credit_code)
    page.select_option("#category", "collusion")
    page.fill("#tender_code", "ZB-2026-000123")
    page.fill("#facts", "与其他投标人串通报价。")
    page.fill("#penalty", "取消投标资格一年。")
    page.set_input_files("#evidence", str(evidence))
    page.fill("#debarred_from", "2026-11-23")
    page.fill("#debarred_to", "2028-11-23")  # one day over two years: refused (R-R3)
    page.click("#record-form button[type=submit]")
    expect(page.locator("#bounds")).to_contain_text("2028年11月22日")
    page.fill("#debarred_to", "2027-11-22")
    page.set_input_files("#evidence", str(evidence))
    page.click("#record-form button[type=submit]")
    expect(page.locator("h1")).to_have_text("浏览器串标建设有限公司")
    expect(page.locator("#evidence-link")).to_have_text("证据.txt")
    page.click("#publish-form button[type=submit]")
    expect(page.locator(".flash-success")).to_be_visible()
    page.click("form[action='/sign-out'] button")

    page.goto("/credit/records")
    page.fill("#q", offender.credit_code)
    page.click("#records-search button[type=submit]")
    row = page.locator("#records tbody tr").first
    expect(row).to_contain_text("浏览器串标建设有限公司")
    expect(row).to_contain_text("2026年11月23日 至 2027年11月22日")
    expect(row).to_contain_text("禁止投标中")
    row.locator("a").click()
    expect(page.locator("#debarment")).to_contain_text("2027年11月22日")
    expect(page.locator("#evidence-link")).to_have_count(0)


def test_a_file_over_the_upload_limit_is_stopped_in_the_browser_before_it_is_sent(
    page, people, tmp_path, app, monkeypatch, session
):
    """The page knows the platform's body limit: a file over it is refused with the limit in words,
    even on a form whose own checks are left to the server (novalidate), and nothing is recorded."""
    from sqlalchemy import func, select

    from credit.models import ConductRecord

    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 2 * 1024)
    offender = people.org("tenderer", "超大证据建设有限公司")
    supervisor = people.user(Role.SUPERVISOR, "credit-limit-e2e")
    evidence = tmp_path / "录像.bin"
    evidence.write_bytes(b"\0" * 4096)
    sign_in(page, people, supervisor)
    page.click("#nav-credit")
    page.click("#new-record")
    form_url = page.url
    page.select_option("#subject_kind", "tenderer")
    page.fill("#subject", offender.credit_code)
    page.select_option("#category", "collusion")
    page.fill("#facts", "与其他投标人串通报价。")
    page.fill("#penalty", "警告。")
    page.set_input_files("#evidence", str(evidence))
    assert page.eval_on_selector("#evidence", "e => e.validationMessage") == (
        "该文件超过平台可接收的大小：最多 2 KiB。"
    )
    page.click("#record-form button[type=submit]")
    page.wait_for_timeout(300)
    assert page.url == form_url
    session.rollback()
    assert session.scalar(select(func.count()).select_from(ConductRecord)) == 0
    # A file within the limit clears the refusal.
    small = tmp_path / "照片.bin"
    small.write_bytes(b"\0" * 100)
    page.set_input_files("#evidence", str(small))
    assert page.eval_on_selector("#evidence", "e => e.validationMessage") == ""
