"""Proofs where people keep them, in Chromium (issue 18 item 2): the tenderer downloads its receipt from the
dashboard and checks it on the receipt page; the supervisor's audit page remembers, in the browser, the
latest checkpoint the witness cosigned and reports a rolled-back log loudly. With SUNBID_SHOTS=DIR set,
each page is also saved at 1366 and 390 px wide, in Chinese and English."""

import json
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

import audit
from audit.models import AuditCosigned
from core import clock
from core.db import intent
from tests.audit.tamper import roll_back
from tests.bidding.test_opening import submit
from tests.e2e.test_ledger_pages import shoot, sign_out
from tests.e2e.test_pages import sign_in

pytestmark = pytest.mark.e2e


def test_a_receipt_checked_in_the_page_and_a_rollback_shown_on_the_audit_page(
    page, people, cast, client, session, tender, tmp_path
):
    client.get("/api/v1/audit/checkpoint")  # cosigned now: the backup the operator will restore
    session.rollback()
    backup = max(session.scalars(select(AuditCosigned.size)))
    bidder, bid_id, _sealed = submit(client, people, session, tender, tmp_path, "page-bidder")

    # The supervisor's browser remembers the witnessed checkpoint it sees.
    sign_in(page, people, cast["supervisor"])
    page.click("header a[href='/audit/']")
    expect(page.locator("#witness-memory")).to_have_attribute("data-result", "ok")
    expect(page.locator("#witness-memory-status")).to_contain_text("记住")
    session.rollback()  # a fresh transaction: the page has written meanwhile
    with intent(True):
        for k in range(3):
            data = {"ok": True, "size": k, "problem": None}
            audit.record(session, None, "audit.verified", None, data, None)
        session.commit()
    page.reload()
    expect(page.locator("#witness-memory-status")).to_contain_text("一致")
    shoot(page, "audit-witness")
    sign_out(page)

    # The tenderer downloads its receipt from the dashboard and checks it.
    sign_in(page, people, bidder.user)
    with page.expect_download() as download:
        page.click(f"#my-bids a[href='/tenders/{tender.id}/bids/{bid_id}/receipt.json']")
    receipt = tmp_path / "receipt.json"
    download.value.save_as(receipt)
    assert json.loads(receipt.read_text())["proof"]["checkpoint"]
    page.click("#receipt-check-link")
    page.set_input_files("#receipt", str(receipt))
    page.click("#receipt-check-form button[type=submit]")
    expect(page.locator("#receipt-ok")).to_be_visible()
    expect(page.locator("#receipt-result li.ok")).to_have_count(4)
    shoot(page, "receipt-check")

    # The operator swaps the database for the backup: the page says so.
    session.rollback()
    with intent(True):
        roll_back(session, backup)
    page.goto("/receipts/check")
    page.set_input_files("#receipt", str(receipt))
    page.click("#receipt-check-form button[type=submit]")
    expect(page.locator("#receipt-alarm")).to_be_visible()
    shoot(page, "receipt-check-rolled-back")
    sign_out(page)

    clock.advance(timedelta(seconds=31))
    sign_in(page, people, cast["supervisor"])
    page.click("header a[href='/audit/']")
    expect(page.locator("#witness-refused")).to_be_visible()  # the witness will not cosign the copy
    expect(page.locator("#witness-memory")).to_have_attribute("data-result", "alarm")
    expect(page.locator("#witness-memory-status")).to_contain_text("回滚")
    shoot(page, "audit-rolled-back")
