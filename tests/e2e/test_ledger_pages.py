"""The deposit ledger in Chromium (R-D3): the supervisor from the dashboard and the agency from the tender
page reach the tender's entries and trial balance; the tenderer reaches its statement from the dashboard.
With SUNBID_SHOTS=DIR set, each page is also saved as a full-page screenshot at 1366 and 390 px wide, in
Chinese and in English."""

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from core import clock
from tests.bidding.test_ledger_view import books  # noqa: F401  (three deposits: refunded, forfeited, held)
from tests.e2e.test_pages import sign_in

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("SUNBID_SHOTS")


def shoot(page, name: str) -> None:
    """Full-page screenshots at both widths, in Chinese and in English (the page switches back after)."""
    if not SHOTS:
        return
    folder = Path(SHOTS)
    folder.mkdir(parents=True, exist_ok=True)
    for lang in ("zh", "en"):
        for width in (1366, 390):
            page.set_viewport_size({"width": width, "height": 900})
            page.screenshot(path=str(folder / f"{name}-{lang}-{width}.png"), full_page=True)
        page.click("#lang-switch")
    page.set_viewport_size({"width": 1366, "height": 900})


def sign_out(page):
    page.click("form[action='/sign-out'] button")
    clock.advance(timedelta(seconds=31))


def test_the_ledger_pages_from_the_dashboards(page, people, cast, session, tender, books):  # noqa: F811
    bidders, _deposits = books
    clock.freeze(tender.bid_deadline + timedelta(hours=2))

    sign_in(page, people, cast["supervisor"])
    expect(page.locator("#overdue-award-steps")).to_contain_text("没有逾期事项")
    shoot(page, "dashboard-supervisor")
    page.click(f"#supervised-tenders a.ledger-link[href='/tenders/{tender.id}/ledger']")
    expect(page.locator("h1")).to_have_text("保证金台账")
    expect(page.locator("#balance-verdict")).to_contain_text("账目平衡")
    expect(page.locator("#trial-balance svg")).to_be_visible()
    expect(page.locator("#escrow-chart svg")).to_be_visible()
    expect(page.locator("#ledger-entries")).to_contain_text(bidders[2].organization.name)
    expect(page.locator("#ledger-entries")).to_contain_text("退还保证金")
    shoot(page, "ledger-supervisor")
    sign_out(page)

    sign_in(page, people, cast["agent"])
    page.goto(f"/tenders/{tender.id}")  # the agency works from the tender page
    page.click("#ledger-link")
    expect(page).to_have_url(re.compile(rf".*/tenders/{tender.id}/ledger$"))
    expect(page.locator("#balance-verdict")).to_contain_text("账目平衡")
    sign_out(page)

    sign_in(page, people, bidders[0])
    page.click("#statement-link")
    expect(page.locator("h1")).to_have_text("保证金对账单")
    expect(page.locator("#statement")).to_contain_text("已退还")
    expect(page.locator("#statement")).to_contain_text(tender.code)
    expect(page.locator("#holdings-chart svg")).to_be_visible()
    shoot(page, "statement-tenderer")
    page.click("#rules-link")
    expect(page.locator("#R-T4")).to_be_visible()
    expect(page.locator("#R-A3")).to_be_visible()
    shoot(page, "rules")
