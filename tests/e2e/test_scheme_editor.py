"""In Chromium: the agency reaches the scoring-scheme editor from its tender's checklist, adds and removes
criterion rows, and the running total says when items and price come to 100 points (issue 17)."""

import pytest
from playwright.sync_api import expect

from tests.bidding.test_tenders import draft
from tests.e2e.test_evaluation_award import enter

pytestmark = pytest.mark.e2e


def test_the_scheme_editor_adds_and_removes_rows_with_a_running_total(page, client, people, cast):
    tender = draft(client, people, cast)
    enter(page, people, cast["agent"])
    page.click(f"main a[href='/tenders/{tender['id']}'] >> nth=0")
    page.click("#step-scoring_scheme")
    rows = page.locator("#criteria-table tr.criterion-row")
    before = rows.count()
    page.click("#add-criterion")
    expect(rows).to_have_count(before + 1)
    page.fill("#price_points", "60")
    first = rows.nth(0)
    first.locator("input[name$='-key']").fill("T1")
    first.locator("input[name$='-name']").fill("施工组织设计")
    first.locator("select[name$='-kind']").select_option("subjective")
    first.locator("input[name$='-max_points']").fill("30")
    expect(page.locator("#scheme-total")).to_contain_text("90")
    last = rows.nth(before)
    last.locator("input[name$='-key']").fill("C1")
    last.locator("input[name$='-name']").fill("项目经理业绩")
    last.locator("select[name$='-kind']").select_option("objective")
    last.locator("select[name$='-part']").select_option("commercial")
    last.locator("input[name$='-max_points']").fill("10")
    expect(page.locator("#scheme-total")).to_contain_text("100")
    expect(page.locator("#scheme-total")).to_have_class("badge ok")
    rows.nth(1).locator(".remove-row").click()
    expect(rows).to_have_count(before)
    page.click("#scheme-form button[type=submit]")
    expect(page.locator("#scheme")).to_contain_text("项目经理业绩")
