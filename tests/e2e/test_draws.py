"""In the browser: the agency requests an expert draw, the supervisor witnesses it (R-E2, R-E4)."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from core import clock
from tests.bidding.test_views import local
from tests.e2e.test_pages import sign_in
from tests.experts.conftest import admin, experts, scene, taxonomy  # noqa: F401 (fixtures)

pytestmark = pytest.mark.e2e


def test_agency_requests_a_draw_and_the_supervisor_witnesses_it(page, people, scene, experts):  # noqa: F811
    experts.many(7)
    tender = scene["tender"]
    sign_in(page, people, scene["agent"])
    page.click(f"#panel-draws a[href='/tenders/{tender.id}/draws/new']")
    page.select_option("#specialty-0", "01.01.01")
    page.fill("#count-0", "5")
    page.fill("#backups", "1")
    page.fill("#evaluation_at", local(clock.now() + timedelta(days=1)))
    page.fill("#evaluation_place", "第3评标室")
    page.select_option("#supervisor", scene["supervisor"].username)
    page.click("#draw-form button[type=submit]")
    expect(page.locator("#draw-status")).to_have_text("等待随机数")
    expect(page.locator("#draw-counts")).to_contain_text("7")  # eligible
    page.click("#contribute-form button[type=submit]")
    expect(page.locator(".flash-success")).to_contain_text("随机数已记录")
    expect(page.locator("#draw-members")).to_have_count(0)
    page.click("form[action='/sign-out'] button")

    sign_in(page, people, scene["supervisor"])
    page.click("#panel-draws a[href^='/draws/']")
    page.click("#contribute-form button[type=submit]")
    expect(page.locator("#draw-status")).to_have_text("已抽取")
    page.click("#draw-members a.button")
    expect(page.locator("#draw-members tbody tr")).to_have_count(6)
    expect(page.locator("#draw-members")).to_contain_text("备选")
