"""In Chromium, one whole evaluation and award from the dashboards, with no typed URL and no hand-made API
call (issue 17): the agency has experts drawn and seats the committee with the tenderee's representative
chosen from a list; the experts accept their calls, reach the room from the dashboard, check in, open
every part the committee judges (the browser's PDF viewer, images, text; technical parts under codes),
score; one member withdraws (R-E5) and the report waits (R-E1) until a replacement is drawn, seated and
has scored; the chair reviews a flagged score (R-V4); all sign, one dissenting with reasons (R-V6); the
agency publishes the candidates (R-A1); the tenderee decides (R-A2) and records the contract (R-A3); the
public sees the candidate publicity and the result notice. The signed PDFs verify with Poppler's pdfsig
and pyHanko's validator (R-R2), and axe finds nothing critical or serious on the room, the score sheet,
the award page and the portal.

With SUNBID_SHOTS=DIR set, the pages are saved as full-page screenshots at 1366 and 390 px in zh and en.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from accounts import pki
from bidding.models import Tender
from core import clock, pdfsign
from core.roles import Role
from core.storage import file_store
from evaluation.models import Award, EvaluationReport
from experts import calls
from tests.bidding.test_opening import decrypt, file_keys, start
from tests.bidding.test_tenders import auth
from tests.bidding.test_views import local
from tests.e2e import crawl
from tests.e2e.test_ledger_pages import shoot
from tests.evaluation.test_room import _submit
from tests.evaluation.test_scoring import put_scheme
from tests.experts.conftest import admin, experts, taxonomy  # noqa: F401 (fixtures)
from tests.factories import PASSWORD

pytestmark = pytest.mark.e2e
PDFSIG = shutil.which("pdfsig")


def _pdf(text: str) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=14)
    pdf.cell(0, 10, text)
    return bytes(pdf.output())


PNG = bytes.fromhex(  # a 1 x 1 red pixel
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415408d763f8cfc000"
    "000301010018dd8db40000000049454e44ae426082"
)


@pytest.fixture
def opened_with_files(client, people, cast, session, tender, tmp_path):
    """Three opened bids whose qualification part holds a PDF, an image and text; a scheme on record."""
    extra = {"qualification": {"licence.pdf": _pdf("Safety licence"), "site.png": PNG}}
    submitted = [
        _submit(client, people, session, tender, tmp_path, f"files{n}", price_fen=p, extra=extra)
        for n, p in enumerate((98_000_000, 99_000_000, 100_000_000))
    ]
    start(client, people, cast, tender)
    for bidder, bid_id, sealed in submitted:
        assert decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, sealed)).status_code == 200
    closed = client.post(
        f"/api/v1/tenders/{tender.id}/opening/close", json={}, headers=auth(people, client, cast["agent"])
    )
    assert closed.status_code == 200
    clock.advance(timedelta(seconds=31))
    session.rollback()
    tender = session.get(Tender, tender.id)
    put_scheme(session, tender, cast["agent"])
    return tender, submitted


def enter(page, people, user) -> None:
    """Sign in from the home page's link (the only address typed is the site's)."""
    clock.advance(timedelta(seconds=31))  # each code works once
    page.goto("/")
    page.click("header a[href='/sign-in']")
    page.fill("#username", user.username)
    page.fill("#password", PASSWORD)
    page.click("#sign-in-form button[type=submit]")
    if user.username in people.secrets:
        page.fill("#code", people.code(user))
        page.click("#code-form button[type=submit]")
    expect(page).to_have_url(re.compile(r".*/dashboard$"))


def leave(page) -> None:
    page.click("form[action='/sign-out'] button")


def axe_clean(page) -> None:
    page.evaluate(crawl.AXE)
    assert page.evaluate(crawl.AXE_RUN) == [], page.url


def contribute(page) -> None:
    page.click("#contribute-form button[type=submit]")
    expect(page.locator(".flash-success")).to_be_visible()


def to_room(page) -> None:
    page.click("#panel-rooms a.room-link")
    expect(page.locator("#committee")).to_be_visible()


def check_in(page, people, user) -> None:
    clock.advance(timedelta(seconds=31))  # the sign-in code is spent: check-in needs a fresh one
    page.fill("#code", people.code(user))
    page.click("#check-in-form button[type=submit]")
    expect(page.locator("#sheet")).to_be_visible()


def fill_sheet(page, codes_score: str, submit: bool = True, odd: str | None = None) -> None:
    """Pass everyone, C1 8 points, T1 ``codes_score`` under each code (``odd`` for the first code)."""
    for select_ in page.locator("#sheet-form select").all():
        select_.select_option("pass")
    inputs = page.locator("#sheet-form input[name^='s|']").all()
    first_code = True
    for field in inputs:
        name = field.get_attribute("name")
        if name.endswith("|T1"):
            field.fill(odd if odd and first_code else codes_score)
            first_code = False
        else:
            field.fill("8")
    page.click("#submit-sheet" if submit else "#save-sheet")
    expect(page.locator(".flash-success")).to_be_visible()


def test_a_whole_evaluation_and_award_from_the_dashboards(
    page,
    people,
    cast,
    session,
    opened_with_files,
    experts,  # noqa: F811
):
    tender, bids = opened_with_files
    pool_users = [people.user(Role.EXPERT, f"pe{n}") for n in range(8)]
    for user in pool_users:
        experts.expert(username=user.username, name=user.display_name)
    representative = people.user(Role.TENDEREE, "rep", org=cast["tenderee"], with_totp=True)
    tenderee = people.user(Role.TENDEREE, "owner", org=cast["tenderee"])
    agent, supervisor = cast["agent"], cast["supervisor"]

    # -- the agency has experts drawn, from the tender's checklist -------------------------------------
    enter(page, people, agent)
    page.click(f"main a[href='/tenders/{tender.id}'] >> nth=0")
    shoot(page, "agency-tender-steps")
    page.click("#step-draw")
    page.select_option("#specialty-0", "01.01.01")
    page.fill("#count-0", "4")
    page.fill("#backups", "1")
    page.check("input[name=tenderee_representative]")
    page.fill("#evaluation_at", local(clock.now() + timedelta(days=1)))
    page.fill("#evaluation_place", "第3评标室")
    page.click("#draw-form button[type=submit]")
    contribute(page)
    leave(page)
    enter(page, people, supervisor)
    page.click("#panel-draws a[href^='/draws/']")
    contribute(page)
    expect(page.locator("#draw-status")).to_have_text("已抽取")
    leave(page)

    # -- the called experts accept from their calls list ------------------------------------------------
    called = [u for u in pool_users if any(c.status == "pending" for c in calls.my_calls(session, u))]
    session.rollback()
    assert len(called) == 4
    for user in called:
        enter(page, people, user)
        page.click("#panel-expert a[href='/experts/calls']")
        if user is called[0]:
            shoot(page, "expert-calls")
        page.click("#calls .answer-inline button[value=accept]")
        expect(page.locator("#calls")).to_contain_text("已接受")
        leave(page)

    # -- the agency seats the committee, choosing the representative from a list -----------------------
    enter(page, people, agent)
    page.click(f"main a[href='/tenders/{tender.id}'] >> nth=0")
    page.click("#step-committee")
    page.select_option("#representative", representative.username)
    page.click("#seat-form button[type=submit]")
    expect(page.locator("#sitting-count")).to_have_text("5")
    expect(page.locator("body")).not_to_contain_text(called[0].display_name)  # R-E4
    shoot(page, "agency-committee")
    leave(page)

    # -- members reach the room from the dashboard, check in, elect the chair --------------------------
    chair, dissenter, leaver, last = called
    members = [chair, dissenter, leaver, last, representative]
    for user in members:
        enter(page, people, user)
        if user.role == Role.EXPERT:  # the accepted call now links the room too
            page.click("#panel-expert a[href='/experts/calls']")
            expect(page.locator("#calls a.button")).to_have_text("进入评标室")
            page.click("a.brand")
            page.click("a[href='/dashboard']")
            if user is chair:
                shoot(page, "expert-dashboard")
            to_room(page)
        else:
            page.click("#panel-tenderee a.room-link")
        check_in(page, people, user)
        if user in (chair, dissenter, leaver):
            page.select_option("#candidate", label=chair.display_name)
            page.click("#chair-form button[type=submit]")
        if user is chair:
            # every part the committee judges opens in the page, with the session
            for n in range(page.locator("#parts a.part-file").count()):
                link = page.locator("#parts a.part-file").nth(n)
                name = link.inner_text()
                if name.endswith(".pdf"):
                    with page.expect_response(re.compile(r".*/raw$")) as shown:
                        link.click()
                    assert shown.value.status == 200
                    assert shown.value.headers["content-type"] == "application/pdf"
                    expect(page.locator("#pdf-frame")).to_be_visible()
                    if n == 0:
                        shoot(page, "file-pdf")
                else:
                    link.click()
                    if name.endswith(".png"):
                        expect(page.locator("#file-image")).to_be_visible()
                        assert page.eval_on_selector("#file-image", "img => img.naturalWidth") == 1
                    else:
                        expect(page.locator("#file-text")).to_be_visible()
                if re.match(r"T\d\d-", name):  # blind: the page names the code, never the bidder
                    for bidder, _bid, _sealed in bids:
                        expect(page.locator("main")).not_to_contain_text(bidder.user.organization.name)
                page.click("main a[href$='#parts']")
            shoot(page, "room")
            axe_clean(page)
        leave(page)

    # -- one member withdraws (R-E5): the others score, the report waits (R-E1) ------------------------
    enter(page, people, leaver)
    to_room(page)
    page.click("#conflicts summary")
    page.check("#conflict-form input[name=bids] >> nth=0")
    page.fill("#conflict-form #reason", "曾在该投标人任职")
    page.click("#conflict-form button[type=submit]")
    leave(page)
    for user, score, odd in ((chair, "25", None), (dissenter, "24", "10"), (last, "25", None)):
        enter(page, people, user)
        to_room(page)
        if user is chair:
            fill_sheet(page, score, submit=False)  # a draft first
            expect(page.locator("#sheet-form input[name$='|T1']").first).to_have_value("25")
            shoot(page, "score-sheet")
            axe_clean(page)
        fill_sheet(page, score, odd=odd)
        leave(page)
    enter(page, people, representative)
    page.click("#panel-tenderee a.room-link")
    fill_sheet(page, "25")
    expect(page.locator("#quorum-warning")).to_be_visible()
    leave(page)

    # -- the replacement draw for the empty seat, witnessed, accepted, seated --------------------------
    enter(page, people, agent)
    page.click(f"main a[href='/tenders/{tender.id}'] >> nth=0")
    page.click("#steps a[href$='/committee']")
    expect(page.locator("#committee-short")).to_be_visible()
    page.fill("#evaluation_at", local(clock.now() + timedelta(hours=3)))
    page.fill("#evaluation_place", "第3评标室")
    page.click("#replacement-form button[type=submit]")
    contribute(page)
    leave(page)
    enter(page, people, supervisor)
    page.click(f"#panel-draws li:has-text('{tender.code}') a[href^='/draws/'] >> nth=-1")
    contribute(page)
    leave(page)
    session.rollback()
    replacement = next(
        u for u in pool_users if any(c.status == "pending" for c in calls.my_calls(session, u))
    )
    session.rollback()
    enter(page, people, replacement)
    page.click("#panel-expert a[href='/experts/calls']")
    page.click("#calls .answer-inline button[value=accept]")
    leave(page)
    enter(page, people, agent)
    page.click(f"main a[href='/tenders/{tender.id}'] >> nth=0")
    page.click("#steps a[href$='/committee']")
    page.click("#seat-replacement-form button[type=submit]")
    expect(page.locator("#sitting-count")).to_have_text("5")
    leave(page)
    enter(page, people, replacement)
    to_room(page)
    check_in(page, people, replacement)
    fill_sheet(page, "25")
    leave(page)

    # -- the chair reviews the flagged score (R-V4), drafts the report; all sign; one dissents ---------
    enter(page, people, chair)
    to_room(page)
    expect(page.locator("#flags")).to_contain_text("评分畸高或畸低")
    form = page.locator("#flags form.review-form").first
    form.locator("input[name=points]").fill("24")
    form.locator("input[name=note]").fill("经复核，该分值系笔误")
    form.locator("button[type=submit]").click()
    expect(page.locator("#review-list")).to_contain_text("经复核")
    page.click("#draft-report-form button")
    leave(page)
    for user in (chair, dissenter, last, representative, replacement):
        enter(page, people, user)
        if user is representative:
            page.click("#panel-tenderee a.room-link")
        else:
            to_room(page)
        clock.advance(timedelta(seconds=31))
        if user is dissenter:
            page.select_option("#decision", "dissent")
            page.fill("#reasons", "第一名的技术方案工期安排不合理")
        page.fill("#sign-code", people.code(user))
        page.click("#sign-form button[type=submit]")
        expect(page.locator("#signatures")).to_contain_text(user.display_name)
        leave(page)
    enter(page, people, chair)
    to_room(page)
    page.click("#close-report-form button")
    expect(page.locator("#report h2 .badge")).to_have_class(re.compile("ok"))
    shoot(page, "room-results-report")
    leave(page)

    # -- the agency publishes the candidates (R-A1) -----------------------------------------------------
    enter(page, people, agent)
    page.click(f"main a[href='/tenders/{tender.id}'] >> nth=0")
    page.click("#step-candidates")
    page.click("#publish-candidates-form button[type=submit]")
    expect(page.locator("#candidates")).to_be_visible()
    leave(page)

    # -- the tenderee decides after the publicity (R-A2) and records the contract (R-A3) ---------------
    clock.advance(timedelta(days=5))
    enter(page, people, tenderee)
    expect(page.locator("#panel-tenderee")).to_contain_text(tender.code)
    shoot(page, "tenderee-dashboard")
    page.click("#panel-tenderee a[href$='#decision-form']")
    page.fill("#reasons", "综合得分第一，报价合理")
    page.click("#decision-form button[type=submit]")
    expect(page.locator("#award")).to_be_visible()
    shoot(page, "award")
    axe_clean(page)
    page.click("a.brand")
    page.click("#panel-tenderee a[href$='#contract-form']")
    page.fill("#amount", "980000.00")
    page.set_input_files(
        "#file", files=[{"name": "合同.pdf", "mimeType": "application/pdf", "buffer": _pdf("Contract")}]
    )
    page.click("#contract-form button[type=submit]")
    expect(page.locator("#contract-recorded")).to_contain_text("980,000.00")
    page.click("a.brand")
    expect(page.locator("#panel-tenderee")).to_contain_text("合同已签订")
    leave(page)

    # -- the public sees both notices ------------------------------------------------------------------
    page.click("header a[href='/tenders']")
    expect(page.locator("#notices")).to_contain_text("合同已签订")
    page.click("#tab-candidates")
    expect(page.locator("#candidate-notices")).to_contain_text(tender.code)
    shoot(page, "portal-candidates")
    axe_clean(page)
    page.click("#tab-results")
    expect(page.locator("#result-notices")).to_contain_text(tender.code)
    shoot(page, "portal-results")
    axe_clean(page)
    with page.expect_response(re.compile(r".*/award/result\.pdf$")) as notice:
        page.click("#result-notices a[href$='result.pdf']")
    assert notice.value.status == 200 and notice.value.headers["content-type"] == "application/pdf"

    # -- the signed documents verify with outside tools (R-R2) ----------------------------------------
    session.rollback()
    report = session.get(EvaluationReport, tender.id)
    award = session.get(Award, tender.id)
    roots = pki.chain(pki.get_ca(session))[-1:]
    store = file_store()
    from pypdf import PdfReader

    text = "".join(
        p.extract_text() for p in PdfReader(io.BytesIO(store.path_for(report.pdf_sha256).read_bytes())).pages
    )
    assert "第一名的技术方案工期安排不合理" in text.replace("\n", "")  # the dissent and its reasons
    for digest in (report.pdf_sha256, award.award_notice_sha256, award.result_notice_sha256):
        body = store.path_for(digest).read_bytes()
        (check,) = pdfsign.verify(body, roots, clock.now())  # beside Playwright's loop (core.pdfsign)
        assert check.ok, check
        if PDFSIG:
            out = subprocess.run([PDFSIG, str(store.path_for(digest))], capture_output=True, text=True).stdout
            assert "Signature is Valid" in out and "Total document signed" in out, out
    assert session.scalars(select(EvaluationReport)).one().status == "signed"
