"""The opening hall in Chromium: three bidders, the agency and a supervisor (a custodian) watch one hall in
five browser contexts. The opening starts by itself at the deadline (R-T5, the embedded beat of `make
run`), each decryption shows on the other pages within 3 s without a reload, its price sheet is read out
(唱标), an objection is raised and answered there (R-B7), custodians release their shares from the page
with their key files (which stay in the browser), the agency closes with the checklist (R-B6), bidders
sign the record or object, and the signed PDF verifies with pdfsig. Then: fewer than three bids (R-B5)
and a paused tender (R-T4). No page shows a raw code, an ISO time or an id."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from contextlib import contextmanager
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from bidding import hall_changes
from bidding.models import Opening, Tender
from core import clock, labels, scheduler
from core.db import intent
from tests.bidding.test_opening import decrypt, file_keys, submit
from tests.e2e.crawl import Crawler, Report
from tests.e2e.test_pages import sign_in

PDFSIG = shutil.which("pdfsig")
LIVE = 3_000  # ms: a change shows on every watcher's page within this (the goal)


@pytest.fixture
def config(config):
    return {**config, "OPENING_BEAT_SECONDS": 0.5}


@pytest.fixture
def beat(app):
    """The beat schedule run in the server's process, as `make run` runs it (core.scheduler; started by
    the test once its fixtures are written, so that they do not race the jobs for SQLite's write lock)."""
    running = scheduler.EmbeddedBeat(app, tick_seconds=0.2)
    yield running
    running.shutdown()


@contextmanager
def writing(session):
    """The test's own write, taking SQLite's write lock first as requests do (core.db.intent)."""
    session.rollback()
    with intent(True):
        yield
        session.commit()


def watcher(browser, live_server, people, user, locale="zh-CN"):
    context = browser.new_context(
        base_url=live_server, locale=locale, viewport={"width": 1366, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, people, user)
    return page


def to_hall(page, tender):
    """From the dashboard, as a person goes: the tender's page, then its hall."""
    page.goto("/dashboard")
    link = page.locator(f"a[href*='/tenders/{tender.id}/hall']")
    if link.count():
        link.first.click()
    else:
        page.goto(f"/tenders/{tender.id}")
        page.click("#hall-link")
    expect(page.locator("#hall-live")).to_be_visible()


def release_share(page, key_file=None):
    """A custodian opens its share in the page with its key file (which stays there) and releases it."""
    if key_file is not None:
        page.set_input_files("#identity-file", str(key_file))
    page.click("#open-share")
    expect(page.locator("#release-share")).to_be_enabled()
    assert page.input_value("#share-text").startswith("sunbid-share")  # opened here; the key stayed here
    page.click("#release-share")
    expect(page.locator("#my-share-released")).to_be_visible()


def stage(page):
    return page.locator("#hall-stage")


def reread(session):
    session.rollback()
    session.expire_all()


def clean(page, live_server, lang="zh"):
    """No raw code, ISO time or id on the page, nothing unreadable for the crawler (tests/e2e/crawl.py)."""
    report = Report()
    crawler = Crawler(page, live_server, labels.values(), report)
    text = page.evaluate("() => document.title + ' \\n ' + document.body.innerText")
    # the test factories name companies after their role (测试tenderer公司…): names, not codes
    words = re.sub(r"测试[a-z]+公司", "", text)
    crawler.check_text(crawler._adder("hall", lang, page.url), lang, text, words)
    return report.of("uuid", "iso_time", "machine_value", "untranslated")


def crawled(page, live_server, who, lang="zh"):
    """The crawler's whole visit of the hall as this person (tests/e2e/crawl.py): words, times and ids,
    accessibility (axe), a phone's width, the page's links and assets."""
    report = Report()
    crawler = Crawler(page, live_server, labels.values(), report)
    url = page.url.split("#")[0]
    page.goto("about:blank")
    crawler.visit(who, lang, url)
    # the test factories name companies after their role (测试tenderer公司…): names, not codes
    return [str(f) for f in report.findings if not (f.kind == "machine_value" and f.detail in ROLE_WORDS)]


ROLE_WORDS = {"tenderer", "agency", "tenderee", "supervisor", "notary"}


def test_a_whole_opening_in_the_hall(
    browser, live_server, app, beat, client, people, cast, session, tender, tmp_path
):
    bids = [
        submit(
            client, people, session, tender, tmp_path, f"hall-e2e{n}", price_fen=100_000_000 + n * 3_000_050
        )
        for n in range(4)
    ]
    deadline = tender.bid_deadline
    clock.freeze(deadline - timedelta(minutes=2))
    pages = [watcher(browser, live_server, people, b[0].user) for b in bids[:3]]
    agency = watcher(browser, live_server, people, cast["agent"])
    supervisor = watcher(browser, live_server, people, cast["supervisor"])
    everyone = [*pages, agency, supervisor]
    beat.start()

    # Before the deadline: a countdown on the server clock; bidders sign in (签到) from their to-do
    for page in everyone:
        to_hall(page, tender)
        expect(page.locator("#deadline-countdown")).to_be_visible()
    for page in pages[:2]:
        page.click("#sign-in-form button[type=submit]")
        expect(page.locator("#signed-in")).to_be_visible()
    expect(agency.locator("body")).not_to_contain_text(bids[0][0].user.organization.name)  # R-B4

    # R-T5: at the deadline the opening starts by itself; every page shows it without a reload
    clock.freeze(deadline + timedelta(seconds=1))
    for page in everyone:
        expect(stage(page)).to_have_text("投标人正在解密投标文件", timeout=6_000)
        expect(page.locator("#decrypt-countdown")).to_be_visible()
    expect(pages[0].locator("#hall-decrypt input.command")).to_have_value(
        f"bidtool decrypt --server {app.config['PUBLIC_URL']} --key 密钥目录 --cert 证书.pem "
        f"--tender {tender.id} "
        f"--bid {bids[0][1]} --part qualification=qualification.age --part technical=technical.age "
        f"--part commercial=commercial.age"
    )

    # each decryption shows on the other pages within 3 s, and its price is read out (唱标)
    for n in (0, 1):
        bidder, bid_id, sealed = bids[n]
        assert decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, sealed)).status_code == 200
        sent = time.monotonic()
        for page in everyone:
            if page is pages[n]:
                continue
            row = page.locator("#decryption-board tbody tr").nth(n)
            expect(row).to_contain_text("已解密", timeout=LIVE)
            expect(page.locator(f"#reading-{n + 1}")).to_contain_text(
                bidder.user.organization.name, timeout=LIVE
            )
        assert time.monotonic() - sent < LIVE / 1000 + 1.5  # all five within the budget, one after another
    expect(agency.locator("#reading-2 .price-words")).to_have_text("人民币壹佰零叁万元伍角整")

    # R-B7: an objection raised in the hall, answered there
    pages[1].fill("#objection-text", "第一家的工期与招标文件要求不一致，请核实。")
    pages[1].click("#hall-objection-form button[type=submit]")
    expect(agency.locator("#objection-1")).to_contain_text("工期与招标文件要求不一致", timeout=LIVE)
    agency.fill("#answer-1", "已核实：工期满足招标文件要求。")
    agency.click("#answer-form-1 button[type=submit]")
    for page in pages:
        expect(page.locator("#objection-1 .answer")).to_contain_text("工期满足招标文件要求", timeout=LIVE)

    # R-B6: custodians open their shares in the browser with their key files and release them. The live
    # board leaves a form the custodian is working with alone: the agency has chosen its key file when
    # the supervisor's release changes every board; the agency's file stays chosen, its form in place,
    # and its board shows the release once it has submitted.
    key_files = {}
    for name in ("watcher", "agent"):
        key_files[name] = tmp_path / f"{name}-custodian-key.txt"
        key_files[name].write_text(f"# public key: x\n{cast['identities'][name]}\n")
    agency.set_input_files("#identity-file", str(key_files["agent"]))
    taken_in = agency.locator("#hall-live").get_attribute("data-etag")
    release_share(supervisor, key_files["watcher"])
    expect(pages[0].locator("#shares-in")).to_contain_text("3 份中已提交 1 份", timeout=LIVE)
    expect(agency.locator("#hall-live")).not_to_have_attribute("data-etag", taken_in, timeout=LIVE)
    assert agency.evaluate("document.getElementById('identity-file').files.length") == 1
    expect(agency.locator("#shares-in")).to_contain_text("3 份中已提交 0 份")  # held while it works
    release_share(agency)  # with the file it chose before the board changed
    expect(agency.locator("#shares-in")).to_contain_text("3 份中已提交 2 份")
    expect(pages[0].locator("#shares-in")).to_contain_text("3 份中已提交 2 份", timeout=LIVE)
    # the bid whose owner could not decrypt (no fault of its own) opened with the rebuilt key
    agency.check(f"#open-with-key-form input[value='{bids[2][1]}']")
    agency.click("#open-with-key-form button[type=submit]")
    expect(agency.locator("#key-rebuilt")).to_be_visible()
    expect(pages[0].locator("#reading-3")).to_contain_text(bids[2][0].user.organization.name, timeout=LIVE)

    # the window ends; the fourth bid is still not decrypted: the agency closes with the checklist
    reread(session)
    clock.freeze(session.get(Opening, tender.id).decrypt_until + timedelta(seconds=1))
    expect(stage(agency)).to_have_text("解密时间已结束：由代理机构结束开标", timeout=LIVE + 2_000)
    expect(agency.locator("#close-checklist tbody tr")).to_have_count(1)
    assert (
        crawled(agency, live_server, "agency") == []
    )  # the checklist's form read by axe, at a phone's width
    assert crawled(supervisor, live_server, "supervisor") == []
    agency.click("#fault-tenderer-1")
    agency.click("#close-form button[type=submit]")
    expect(stage(agency)).to_have_text("开标已结束，开标记录已签署")
    for page in pages:
        expect(stage(page)).to_have_text("开标已结束，开标记录已签署", timeout=LIVE)

    # bidders sign the record (签字确认) or object to it
    pages[0].click("#confirm-record")
    expect(pages[0].locator("#my-verdict")).to_be_visible()
    pages[1].click("#verdict-form summary")
    pages[1].fill("#remark", "我公司的工期读错了。")
    pages[1].click("#object-record")
    expect(agency.locator("#verdicts")).to_contain_text("我公司的工期读错了。", timeout=LIVE)
    expect(agency.locator("#verdicts")).to_contain_text("签署了开标记录")

    # the signed PDF: from the hall, verified by Poppler's pdfsig
    href = pages[2].locator("#record-pdf").get_attribute("href")
    pdf = pages[2].context.request.get(live_server + href)
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    path = tmp_path / "opening-record.pdf"
    path.write_bytes(pdf.body())
    if PDFSIG:
        out = subprocess.run([PDFSIG, str(path)], capture_output=True, text=True, check=False).stdout
        assert "Signature is Valid" in out and "Total document signed" in out, out

    for who, page in (("bidder", pages[0]), ("agency", agency)):
        assert clean(page, live_server) == []
        assert crawled(page, live_server, who) == []
    for page in everyone:
        page.context.close()


def test_fewer_than_three_bids_and_a_paused_tender_in_the_hall(
    browser, live_server, app, beat, client, people, cast, session, tender, tmp_path
):
    """R-T4: a paused tender's hall says so and the opening waits; R-B5: with two bids the tender fails
    at the deadline by itself and each bidder sees what happens to its deposit. In English too."""
    bids = [submit(client, people, session, tender, tmp_path, f"few{n}") for n in range(2)]
    with writing(session):
        session.get(Tender, tender.id).paused_at = clock.now()
    clock.freeze(tender.bid_deadline + timedelta(seconds=1))
    bidder = watcher(browser, live_server, people, bids[0][0].user, locale="en-US")
    beat.start()
    to_hall(bidder, tender)
    expect(stage(bidder)).to_have_text("Paused: an objection to the documents waits for its answer (R-T4)")
    time.sleep(1.5)  # the beat runs meanwhile, and leaves it alone
    reread(session)
    assert session.get(Opening, tender.id) is None
    assert clean(bidder, live_server, "en") == []

    with writing(session):  # the agency's answer resumes the tender (R-T4)
        session.get(Tender, tender.id).paused_at = None
        hall_changes.touch(session, tender.id)
    expect(stage(bidder)).to_have_text("Not opened: fewer than three bids (流标, R-B5)", timeout=6_000)
    expect(bidder.locator("#hall-deposits tbody tr")).to_have_count(1)  # its own deposit only
    expect(bidder.locator("#hall-deposits")).to_contain_text("refund due")
    assert clean(bidder, live_server, "en") == []
    assert crawled(bidder, live_server, "bidder", "en") == []
    bidder.context.close()
