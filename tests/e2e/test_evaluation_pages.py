"""In Chromium: the chair checks in with a fresh code, scores the blind technical parts and the rest,
drafts and signs the report and closes it once the others have signed (through the API); the agency
sees the result only after the report is signed (R-E6, R-V1, R-V6)."""

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from core import clock
from tests.e2e.test_pages import sign_in
from tests.evaluation.test_committee import check_in_and_elect
from tests.evaluation.test_scoring import put_scheme, sheet

pytestmark = pytest.mark.e2e


def test_chair_scores_blind_signs_and_agency_sees_only_the_signed_report(
    page, client, people, cast, committee, opened, session, tmp_path
):
    tender, bids = opened
    put_scheme(session, tender, committee[0])
    chair, others = committee[0], committee[1:]

    # The agency cannot look in before the report is signed (R-E6).
    sign_in(page, people, cast["agent"])
    page.goto(f"/evaluation/{tender.id}")
    expect(page.locator("body")).not_to_contain_text("T01")
    page.click("form[action='/sign-out'] button")
    clock.advance(timedelta(seconds=31))

    sign_in(page, people, chair)
    clock.advance(timedelta(seconds=31))  # the sign-in code is spent; check-in needs a fresh one
    page.goto(f"/evaluation/{tender.id}")
    page.fill("#code", people.code(chair))
    page.click("#check-in-form button[type=submit]")
    expect(page.locator("#part-technical")).to_contain_text("T01")
    for bidder, _bid, _sealed in bids:  # the blind codes never show a bidder next to them
        expect(page.locator("#part-technical")).not_to_contain_text(bidder.user.organization.name)

    # The others check in, vote the chair and submit through the API.
    heads, codes = check_in_and_elect(client, people, tender, others, chair)
    for headers in heads:
        assert (
            client.post(
                f"/api/v1/tenders/{tender.id}/evaluation/scores", json=sheet(bids, codes), headers=headers
            ).status_code
            == 200
        )

    # The chair fills the sheet in the page: pass everyone, 24 points under each code, 8 per bidder.
    page.goto(f"/evaluation/{tender.id}")
    for select in page.locator("#sheet-form select").all():
        select.select_option("pass")
    for field in page.locator("#sheet-form input[name^='s|']").all():
        name = field.get_attribute("name")
        field.fill("24" if name.split("|")[1] in codes else "8")
    page.click("#submit-sheet")
    expect(page.locator("#results")).to_be_visible()
    expect(page.locator("#spread-chart svg")).to_be_visible()
    page.click("#draft-report-form button")
    expect(page.locator("#report")).to_contain_text("PDF")
    clock.advance(timedelta(seconds=31))
    page.fill("#sign-code", people.code(chair))
    page.click("#sign-form button[type=submit]")
    expect(page.locator("#report")).to_contain_text(chair.display_name)
    for member, headers in zip(others, heads, strict=True):
        clock.advance(timedelta(seconds=31))
        client.post(
            f"/api/v1/tenders/{tender.id}/evaluation/report/signatures",
            json={"code": people.code(member), "decision": "agree"},
            headers=headers,
        )
    page.goto(f"/evaluation/{tender.id}")
    page.click("#close-report-form button")
    expect(page.locator("#report h2 .badge")).to_have_class(re.compile("ok"))
    page.click("form[action='/sign-out'] button")
    clock.advance(timedelta(seconds=31))

    sign_in(page, people, cast["agent"])
    page.goto(f"/evaluation/{tender.id}")
    expect(page.locator("#report-results")).to_contain_text(bids[0][0].user.organization.name)
