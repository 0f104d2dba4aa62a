"""Custodian keys made in the browser (issue 14 item 3): a supervisor without a key sees the to-do on the
dashboard, makes an age identity in the page, saves it as a file and registers only its public half; no
request ever carries the private key. The agency's publish section names the custodians who lack a key,
and publishes once one has it."""

import re
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts import services as accounts
from bidding import periods
from bidding import services as tenders
from bidding.calendar import Calendar
from core import clock
from core.keys import ColumnCipher
from core.roles import Role
from crypto import age
from tests.e2e.test_pages import sign_in
from tests.e2e.test_tender_pages import sign_out

pytestmark = pytest.mark.e2e


def _draft(session, agent, tenderee):
    start = clock.now() + timedelta(days=1)
    bid_deadline = start + timedelta(days=25)
    objections_close = periods.statutory_objection_close(bid_deadline, Calendar.load(session))  # R-T4
    data = tenders.parse_tender(
        {
            "title": "县医院污水处理站改造工程",
            "category": "市政",
            "tenderee_id": str(tenderee.id),
            "estimated_price": {"amount_fen": 300_000_000},
            "deposit": {"amount_fen": 3_000_000},
            "timeline": {
                "documents_from": start.isoformat(),
                "documents_to": (start + timedelta(days=7)).isoformat(),
                "clarification_deadline": (start + timedelta(days=8)).isoformat(),
                "objection_deadline": objections_close.isoformat(),
                "bid_deadline": bid_deadline.isoformat(),
            },
        }
    )
    tender = tenders.create_draft(session, agent, data)
    session.commit()
    return tender


def _make_key_in_the_page(page, tmp_path: Path) -> tuple[str, age.Identity]:
    page.click("#keygen-generate")
    recipient_field = page.locator("#custodian-key-form input[name=recipient]")
    expect(recipient_field).to_have_value(re.compile(r"^age1[0-9a-z]{58}$"))
    expect(page.locator("#custodian-key-form button[type=submit]")).to_be_disabled()
    with page.expect_download() as download:
        page.click("#keygen-save")
    saved = tmp_path / download.value.suggested_filename
    download.value.save_as(saved)
    page.check("#keygen-saved")
    recipient = recipient_field.input_value()
    text = saved.read_text(encoding="ascii")
    identity = age.Identity.parse(text.strip().splitlines()[-1])
    assert f"# public key: {recipient}" in text
    return recipient, identity


def test_a_supervisor_makes_a_custodian_key_in_the_browser_and_the_agency_publishes(
    page, people, session, tmp_path
):
    agent = people.user(Role.AGENCY, "key-agent")
    accounts.set_custodian_key(session, agent, str(age.generate_identity().recipient))
    notary = people.user(Role.NOTARY, "key-notary-office")  # the third custodian, from a notary office
    accounts.set_custodian_key(session, notary, str(age.generate_identity().recipient))
    supervisor = people.user(Role.SUPERVISOR, "key-sup")
    supervisor.display_name = "监督员 孙悦"
    tenderee = people.org("tenderee", "县人民医院")
    tender = _draft(session, agent, tenderee)
    tenders_document = tmp_path / "招标文件.pdf"
    tenders_document.write_bytes("第一章".encode())

    # The agency's publish section says who must act instead of a dead-end form.
    sign_in(page, people, agent)
    page.goto(f"/tenders/{tender.id}")
    expect(page.locator("#custodian-status")).to_contain_text("没有监督人员")
    expect(page.locator("#custodians-missing")).to_contain_text("监督员 孙悦")
    expect(page.locator("#publish-form")).to_have_count(0)
    page.set_input_files("#document-form input[type=file]", str(tenders_document))
    page.click("#document-form button[type=submit]")
    sign_out(page)

    # The supervisor: the dashboard's to-do leads to the page; the key is made and saved in the browser.
    requests: list[str] = []
    page.on(
        "request",
        lambda r: requests.append(f"{r.url}\n{r.headers}\n{r.post_data or ''}"),
    )
    sign_in(page, people, supervisor)
    page.click("#todo-custodian-key a")
    expect(page.locator("h1")).to_have_text("保管人密钥")
    recipient, identity = _make_key_in_the_page(page, tmp_path)
    assert str(identity.recipient) == recipient
    page.click("#custodian-key-form button[type=submit]")
    expect(page.locator(".flash-success")).to_be_visible()
    stored = page.evaluate("() => JSON.stringify(localStorage) + JSON.stringify(sessionStorage)")
    secret = str(identity)
    assert all(secret not in r and secret.lower() not in r for r in requests)  # never sent, in any form
    assert secret not in stored
    assert any(recipient in r for r in requests)  # the public half was
    session.refresh(supervisor)
    assert supervisor.custodian_recipient == recipient
    sign_out(page)

    # Now the agency can publish, with the supervisor holding a share sealed to that key.
    clock.advance(timedelta(seconds=31))
    sign_in(page, people, agent)
    page.goto(f"/tenders/{tender.id}")
    expect(page.locator("#custodians-missing")).to_have_count(0)
    page.select_option("#publish-form select[name=supervisor]", "key-sup")
    page.select_option("#publish-form select[name=notary]", "key-notary-office")
    page.click("#publish-form button[type=submit]")
    expect(page.locator(".flash-warning")).to_contain_text("2027")  # no official calendar loaded here
    expect(page.locator("#opening-key")).to_contain_text("age1")
    session.rollback()
    share = next(s for s in session.get(type(tender), tender.id).opening_key.shares if s.role == "supervisor")
    from crypto import opening

    sealed = ColumnCipher(people.app.config["DATA_KEY"]).open("custodian-share", share.sealed)  # at rest
    opened = opening.open_share(
        opening.SealedShare(share.role, share.x, sealed, share.share_sha256), identity
    )
    assert opened.x == share.x  # the file saved from the browser opens the supervisor's share


def test_the_custodian_page_in_english_explains_the_steps(page, people):
    notary = people.user(Role.SUPERVISOR, "key-notary")
    sign_in(page, people, notary)
    page.click("#lang-switch")
    page.goto("/account/custodian-key")
    expect(page.locator("#custodian-keygen")).to_be_visible()
    expect(page.locator("#keygen-generate")).to_have_text("Make my custodian key")
    expect(page.locator("[data-step='2']")).to_be_hidden()  # one step at a time
