"""Screenshots for the lead (not committed)."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from bidding import opening
from core import clock
from core.roles import Role
from tests.bidding.test_bids import Tenderer, new_bid, upload_all
from tests.bidding.test_tenders import auth
from tests.e2e.test_pages import sign_in
from tests.e2e.test_tenderer_browser import PASSPHRASE, _make_keys, _seal_all, _sources

OUT = Path("/work/notes/shots/i15")
pytestmark = pytest.mark.e2e


def shot(page, name, lang):
    for width in (1366, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(OUT / f"{name}-{lang}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 900})


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_shots(page, client, people, session, tender, cast, tmp_path, lang):
    clerk = people.user(Role.TENDERER, f"shot-{lang}")
    clerk.display_name = "张三"
    session.commit()
    sign_in(page, people, clerk)
    if lang == "en":
        page.click("#lang-switch")
    shot(page, "01-dashboard", lang)
    keys = _make_keys(page, tmp_path)
    shot(page, "02-keys-made", lang)
    page.click("nav a[href='/tenders']")
    page.click(f"a[href='/tenders/{tender.id}']")
    page.click("#start-bid button")
    page.locator("#my-bid").scroll_into_view_if_needed()
    shot(page, "03-my-bid-started", lang)
    bench = page.locator(".seal-bench")
    commercial = bench.locator(".seal-part[data-part='commercial']")
    commercial.locator(".ps-total").fill("1234567.89")
    commercial.locator(".ps-words").fill("人民币壹佰贰拾叁万元整")
    commercial.locator(".part-files").set_input_files(_sources(tmp_path, "probe")["commercial"])
    bench.locator(".signing-key").set_input_files(keys["signing-key.pem"])
    bench.locator(".identity").set_input_files(keys["identity.txt"])
    bench.locator(".passphrase").fill(PASSPHRASE)
    bench.locator(".unlock").click()
    expect(bench.locator(".keys-status")).to_have_class(re.compile("ok"), timeout=60_000)
    commercial.locator(".seal-go").click()
    expect(commercial.locator(".seal-status")).to_have_class(re.compile("error"))
    shot(page, "04-price-sheet-refused", lang)
    page.reload()
    _seal_all(page, page.locator(".seal-bench"), keys, _sources(tmp_path, "first"))
    expect(page.locator("tr.part-row[data-state='received']")).to_have_count(3, timeout=60_000)
    page.click("form[id^='submit-'] button")
    shot(page, "05-submitted-receipt", lang)
    page.click("#bidtool-link")
    shot(page, "06-bidtool", lang)
    others = [Tenderer(people, session, f"shot-cli-{n}-{lang}") for n in (1, 2)]
    for other in others:
        headers = auth(people, client, other.user)
        bid_id = new_bid(client, headers, tender)
        upload_all(client, headers, tmp_path, other, tender, bid_id)
        client.post(f"/api/v1/tenders/{tender.id}/bids/{bid_id}/submit", headers=headers)
    clock.freeze(tender.bid_deadline + timedelta(minutes=1))
    session.rollback()
    opening.start(session, cast["agent"], tender)
    session.commit()
    page.click("nav a[href='/dashboard']")
    shot(page, "07-dashboard-decrypt-todo", lang)
    page.click(f"a[href='/tenders/{tender.id}#my-bid']")
    widget = page.locator(".decrypt-widget")
    widget.locator(".decrypt-identity").set_input_files(keys["identity.txt"])
    widget.locator(".decrypt-go").click()
    expect(widget.locator(".decrypt-results li[data-status='ok']")).to_have_count(3, timeout=60_000)
    widget.locator(".decrypt-go").click()
    expect(widget.locator(".decrypt-results li")).to_have_count(3)
    widget.scroll_into_view_if_needed()
    shot(page, "08-decrypted-second-try", lang)
