"""Screenshots of the hall for the report (not a test of the suite)."""

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from bidding.models import Opening
from core import clock
from tests.bidding.test_opening import decrypt, file_keys, submit
from tests.e2e.test_hall import beat, config, reread, stage, to_hall, watcher  # noqa: F401

OUT = "/work/notes/shots/i16"


def shoot(page, name):
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_timeout(300)
        page.screenshot(path=f"{OUT}/{name}-{width}.png", full_page=True)
    page.set_viewport_size({"width": 1366, "height": 900})


@pytest.mark.parametrize("locale,lang", [("zh-CN", "zh"), ("en-US", "en")])
def test_shots(browser, live_server, app, beat, client, people, cast, session, tender, tmp_path, locale, lang):
    bids = [
        submit(client, people, session, tender, tmp_path, f"shot{n}", price_fen=100_000_000 + n * 3_000_050,
               project_manager=f"张{n}工" if n else None)
        for n in range(4)
    ]
    clock.freeze(tender.bid_deadline - timedelta(minutes=90))
    bidder = watcher(browser, live_server, people, bids[0][0].user, locale)
    agency = watcher(browser, live_server, people, cast["agent"], locale)
    sup = watcher(browser, live_server, people, cast["supervisor"], locale)
    for p in (bidder, agency, sup):
        to_hall(p, tender)
    shoot(bidder, f"{lang}-1-bidder-waiting")
    bidder.click("#sign-in-form button[type=submit]")
    expect(bidder.locator("#signed-in")).to_be_visible()
    shoot(bidder, f"{lang}-2-bidder-signed-in")
    beat.start()
    clock.freeze(tender.bid_deadline + timedelta(seconds=1))
    expect(bidder.locator("#decrypt-countdown")).to_be_visible(timeout=8000)
    for n in (1, 2):
        b, bid_id, sealed = bids[n]
        decrypt(client, people, tender, b, bid_id, file_keys(b, sealed))
    expect(bidder.locator("#reading-2")).to_be_visible(timeout=5000)
    shoot(bidder, f"{lang}-3-bidder-decrypting")
    bidder.fill("#objection-text", "第二家的工期与招标文件要求不一致，请核实。")
    bidder.click("#hall-objection-form button[type=submit]")
    expect(sup.locator("#hall-custody")).to_be_visible(timeout=5000)
    shoot(sup, f"{lang}-4-supervisor-custodian")
    b, bid_id, sealed = bids[0]
    decrypt(client, people, tender, b, bid_id, file_keys(b, sealed))
    reread(session)
    clock.freeze(session.get(Opening, tender.id).decrypt_until + timedelta(seconds=1))
    expect(agency.locator("#close-checklist")).to_be_visible(timeout=6000)
    agency.wait_for_timeout(2000)
    shoot(agency, f"{lang}-5-agency-closing")
    agency.fill("#answer-1", "已核实：工期满足招标文件要求。")
    agency.click("#answer-form-1 button[type=submit]")
    agency.click("#fault-tenderer-1")
    agency.click("#close-form button[type=submit]")
    expect(agency.locator("#record-pdf")).to_be_visible()
    expect(bidder.locator("#confirm-record")).to_be_visible(timeout=5000)
    bidder.click("#confirm-record")
    agency.wait_for_timeout(2500)
    shoot(agency, f"{lang}-6-agency-closed")
    shoot(bidder, f"{lang}-7-bidder-closed")
    pdf = bidder.context.request.get(live_server + bidder.locator("#record-pdf").get_attribute("href"))
    open(f"{OUT}/{lang}-opening-record.pdf", "wb").write(pdf.body())
