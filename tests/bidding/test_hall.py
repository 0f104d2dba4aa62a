"""The opening hall's rules without a browser: the opening starts by itself at the deadline (R-T5) through
the beat job in both modes (the embedded scheduler here, a real Celery beat and worker in the CI's second
run), fewer than three bids fail it (R-B5), a paused tender waits (R-T4), an opening with nothing left to
judge closes by itself and its record is a PAdES-signed PDF that pdfsig and pyHanko verify (R-B7, R-R2);
the board's ETag answers "not modified" until something the watcher sees changes, and a sign-in before
the deadline tells nobody else anything (R-B4)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from contextlib import contextmanager
from datetime import timedelta
from typing import get_args

import pytest
import redis
from sqlalchemy import event, select, update

from accounts import pki
from audit.models import AuditEntry
from bidding import hall, hall_changes, tasks
from bidding.models import Deposit, HallAttendance, Objection, Opening, Tender
from bidding.schemas import VerdictBody
from core import clock, pdfsign, scheduler
from core.money import fen_to_words
from core.roles import Role
from core.storage import file_store
from evaluation.formulas import words_to_fen
from tests.bidding.test_opening import decrypt, file_keys, submit
from tests.bidding.test_tenders import auth
from tests.bidding.test_views import sign_in

PDFSIG = shutil.which("pdfsig")


def bidders(client, people, session, tender, tmp_path, n=3):
    return [
        submit(client, people, session, tender, tmp_path, f"hall{i}", price_fen=100_000_000 + i * 1_234_567)
        for i in range(n)
    ]


def opened(app, client, people, session, tender, tmp_path):
    """Three bids, the opening started at the deadline by the beat job, the first bidder in the hall."""
    submitted = bidders(client, people, session, tender, tmp_path)
    clock.freeze(tender.bid_deadline)
    tasks.run_openings()
    watcher = app.test_client()
    sign_in(watcher, people, submitted[0][0].user)
    return submitted, watcher


def reread(session) -> None:
    """See what requests and jobs committed: a new snapshot, nothing cached (objects loaded in an earlier
    transaction stay loaded, as the session does not expire them on commit)."""
    session.rollback()
    session.expire_all()


def fresh(session, tender) -> Tender:
    reread(session)
    return session.get(Tender, tender.id)


def test_r_t5_the_beat_job_starts_the_opening_at_the_deadline_once(client, people, session, tender, tmp_path):
    bidders(client, people, session, tender, tmp_path)
    assert tasks.run_openings() == 0  # before the deadline nothing happens
    clock.freeze(tender.bid_deadline)
    assert tasks.run_openings() == 1
    assert tasks.run_openings() == 0  # idempotent: a second scheduler, or a late run, finds it started
    row = session.get(Opening, tender.id)
    assert row.status == "decrypting" and row.started_by_id is None
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "bidding.opening_started")).one()
    assert entry.actor_id is None and json.loads(entry.leaf)["data"]["by"] == "platform"


def test_r_b5_fewer_than_three_bids_fail_by_themselves_and_deposits_are_refunded(
    app, client, people, session, tender, tmp_path
):
    (one, _bid, _sealed), *_ = bidders(client, people, session, tender, tmp_path, n=2)
    clock.freeze(tender.bid_deadline + timedelta(seconds=3))
    assert tasks.run_openings() == 1
    tender = fresh(session, tender)
    assert tender.status == "failed" and session.get(Opening, tender.id).status == "failed"
    assert {d.refund_reason for d in session.scalars(select(Deposit))} == {"failure"}
    board = hall.board(session, one.user, tender)
    assert board.stage == hall.FAILED
    assert [d.organization_id for _name, d in board.deposits] == [one.user.organization_id]  # only its own


def test_r_t4_a_paused_tender_waits_and_starts_once_answered(
    app, client, people, cast, session, tender, tmp_path
):
    bidders(client, people, session, tender, tmp_path)
    objector = people.user(Role.TENDERER, "hall-objector")
    sign_in(client, people, objector)
    raised = client.post(
        f"/tenders/{tender.id}/objections/documents", data={"text": "第三章的资格条件排斥潜在投标人。"}
    )
    assert raised.status_code == 302
    tender = fresh(session, tender)
    assert tender.paused_at is not None
    clock.freeze(tender.bid_deadline + timedelta(seconds=1))
    assert tasks.run_openings() == 0  # R-T4: the opening waits for the answer
    assert hall.stage(tender, None, clock.now()) == hall.PAUSED
    objection = session.scalars(select(Objection)).one()
    from bidding import objections

    objections.answer(session, cast["agent"], tender, objection, "资格条件符合法律规定，不予修改。")
    session.commit()
    assert tasks.run_openings() == 1
    assert session.get(Opening, tender.id).status == "decrypting"


def test_an_opening_with_nothing_to_judge_closes_by_itself_with_a_signed_pdf(
    app, client, people, session, tender, tmp_path
):
    """R-B6, R-B7, R-R2: at the end of the window, every bid decrypted and no objection waiting, the
    platform closes the opening and signs the 开标记录表; pyHanko and pdfsig verify it; the JSON record
    the platform signed is inside."""
    submitted = bidders(client, people, session, tender, tmp_path)
    clock.freeze(tender.bid_deadline)
    assert tasks.run_openings() == 1
    for bidder, bid_id, sealed in submitted[:2]:
        assert decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, sealed)).status_code == 200
    row = session.get(Opening, tender.id)
    clock.freeze(row.decrypt_until + timedelta(seconds=1))
    assert tasks.run_openings() == 0  # one bid is not decrypted: the agency must judge it (R-B6)
    reread(session)
    assert session.get(Opening, tender.id).status == "decrypting"

    clock.freeze(row.started_at + timedelta(minutes=5))
    bidder, bid_id, sealed = submitted[2]
    assert decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, sealed)).status_code == 200
    clock.freeze(row.decrypt_until + timedelta(seconds=1))
    assert tasks.run_openings() == 1
    reread(session)
    row = session.get(Opening, tender.id)
    assert row.status == "closed" and row.record_pdf_sha256
    pdf = file_store().path_for(row.record_pdf_sha256).read_bytes()
    root = pki.chain(pki.get_ca(session))[-1]
    (check,) = pdfsign.verify(pdf, [root], clock.now())
    assert check.ok and check.covers_whole_file and check.subfilter == "/ETSI.CAdES.detached"
    assert pdfsign.attachments(pdf)["opening-record.json"] == row.record.encode()
    if PDFSIG:
        path = tmp_path / "record.pdf"
        path.write_bytes(pdf)
        out = subprocess.run([PDFSIG, str(path)], capture_output=True, text=True, check=False).stdout
        assert "Signature is Valid" in out and "Total document signed" in out, out
    # the readout is in the order the parts opened, with the price in words
    readings = hall.hall_record.readout(session, session.get(Tender, tender.id))
    assert [r.tenderer for r in readings] == [b[0].user.organization.name for b in submitted]
    assert all(words_to_fen(r.words) == r.price_fen for r in readings)


def test_amounts_in_words_read_back():
    """The capitals on the board and the record are what evaluation reads back (R-V5: words beat figures)."""
    assert fen_to_words(120_030_050) == "人民币壹佰贰拾万零叁佰元伍角整"
    assert fen_to_words(100_100) == "人民币壹仟零壹元整"
    assert fen_to_words(105) == "人民币壹元零伍分"
    for fen in (0, 1, 10, 99, 100_000_000, 1_000_000_005, 987_654_321, 10**13 + 7, 30_000_000_000):
        assert words_to_fen(fen_to_words(fen)) == fen


def test_the_board_answers_not_modified_until_something_changes(
    app, client, people, session, tender, tmp_path
):
    """The poll's ETag: 304 while nothing changed; a decryption anywhere changes every watcher's."""
    submitted, watcher = opened(app, client, people, session, tender, tmp_path)
    first = watcher.get(f"/tenders/{tender.id}/hall/board")
    assert first.status_code == 200 and first.headers["ETag"]
    again = watcher.get(f"/tenders/{tender.id}/hall/board", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    bidder, bid_id, sealed = submitted[1]
    decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, sealed))
    changed = watcher.get(
        f"/tenders/{tender.id}/hall/board", headers={"If-None-Match": first.headers["ETag"]}
    )
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]
    assert bidder.user.organization.name in changed.get_data(as_text=True)


def test_r_b4_a_sign_in_before_the_deadline_tells_nobody_else(app, client, people, session, tender, tmp_path):
    submitted = bidders(client, people, session, tender, tmp_path)
    other = app.test_client()
    sign_in(other, people, submitted[1][0].user)
    before = other.get(f"/tenders/{tender.id}/hall/board").headers["ETag"]
    me = app.test_client()
    sign_in(me, people, submitted[0][0].user)
    assert me.post(f"/tenders/{tender.id}/hall/sign-in").status_code == 302
    reread(session)
    assert session.get(HallAttendance, (tender.id, submitted[0][0].user.organization_id)).signed_in_at
    assert other.get(f"/tenders/{tender.id}/hall/board", headers={"If-None-Match": before}).status_code == 304
    page = me.get(f"/tenders/{tender.id}/hall").get_data(as_text=True)
    assert 'id="signed-in"' in page
    # the agency sees nothing of it before the deadline (R-B4)
    agent = app.test_client()
    sign_in(agent, people, tender_agent(people, session, tender))
    assert submitted[0][0].user.organization.name not in agent.get(f"/tenders/{tender.id}/hall").get_data(
        as_text=True
    )
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "bidding.hall_signed_in")).one()
    assert entry.sealed  # R-B4: who signed in is sealed with the bids until the deadline


def tender_agent(people, session, tender):
    from accounts.models import User
    from bidding.models import TenderAssignment

    row = session.scalars(
        select(TenderAssignment).where(
            TenderAssignment.tender_id == tender.id, TenderAssignment.kind == "agency"
        )
    ).first()
    return session.get(User, row.user_id)


def test_who_may_watch_the_hall(app, client, people, session, tender, tmp_path):
    submitted = bidders(client, people, session, tender, tmp_path)
    anonymous = app.test_client()
    assert anonymous.get(f"/tenders/{tender.id}/hall").status_code == 404
    outsider = app.test_client()
    sign_in(outsider, people, people.user(Role.TENDERER, "hall-outsider"))
    assert outsider.get(f"/tenders/{tender.id}/hall").status_code == 200  # before the deadline: a countdown
    clock.freeze(tender.bid_deadline)
    tasks.run_openings()
    assert outsider.get(f"/tenders/{tender.id}/hall").status_code == 404  # not a bidder (R-B7)
    insider = app.test_client()
    sign_in(insider, people, submitted[0][0].user)
    tag = insider.get(f"/tenders/{tender.id}/hall/board").headers["ETag"]
    # an ETag names its watcher: someone else's gets no 304, only the full check
    borrowed = outsider.get(f"/tenders/{tender.id}/hall/board", headers={"If-None-Match": tag})
    assert borrowed.status_code == 404
    for bidder, bid_id, sealed in submitted:
        decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, sealed))
    agent = app.test_client()
    sign_in(agent, people, tender_agent(people, session, tender))
    closed = agent.post(f"/tenders/{tender.id}/hall/close", data={"forfeit_revoked": "y"})
    assert closed.status_code == 302
    assert session.get(Opening, tender.id) is not None
    reread(session)
    assert session.get(Opening, tender.id).status == "closed"
    assert anonymous.get(f"/tenders/{tender.id}/hall").status_code == 200  # the public, once signed
    pdf = anonymous.get(f"/tenders/{tender.id}/hall/record.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"


def test_r_b6_the_closing_checklist_needs_a_mark_and_a_reason(app, client, people, session, tender, tmp_path):
    submitted = bidders(client, people, session, tender, tmp_path)
    clock.freeze(tender.bid_deadline)
    tasks.run_openings()
    for bidder, bid_id, sealed in submitted[:2]:
        decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, sealed))
    row = session.get(Opening, tender.id)
    clock.freeze(row.decrypt_until + timedelta(minutes=1))
    agent = app.test_client()
    sign_in(agent, people, tender_agent(people, session, tender))
    stranded = submitted[2][1]
    unmarked = agent.post(f"/tenders/{tender.id}/hall/close", data={}, follow_redirects=True)
    assert "Mark each bid" in unmarked.get_data(as_text=True) or "标记" in unmarked.get_data(as_text=True)
    no_reason = agent.post(f"/tenders/{tender.id}/hall/close", data={f"fault-{stranded}": "none"})
    assert no_reason.status_code == 302
    reread(session)
    assert session.get(Opening, tender.id).status == "decrypting"  # refused, nothing changed
    done = agent.post(
        f"/tenders/{tender.id}/hall/close",
        data={f"fault-{stranded}": "none", f"reason-{stranded}": "平台解密服务 09:05-09:40 中断"},
    )
    assert done.status_code == 302
    reread(session)
    from bidding.models import Bid

    bid = session.get(Bid, __import__("uuid").UUID(stranded))
    assert bid.outcome == "withdrawn" and bid.outcome_reason == "平台解密服务 09:05-09:40 中断"
    assert session.get(Opening, tender.id).record_pdf_sha256


def test_r_b7_bidders_confirm_or_object_to_the_record(app, client, people, session, tender, tmp_path):
    submitted = bidders(client, people, session, tender, tmp_path)
    clock.freeze(tender.bid_deadline)
    tasks.run_openings()
    for bidder, bid_id, sealed in submitted:
        decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, sealed))
    clock.freeze(session.get(Opening, tender.id).decrypt_until)
    tasks.run_openings()
    first, second = app.test_client(), app.test_client()
    sign_in(first, people, submitted[0][0].user)
    sign_in(second, people, submitted[1][0].user)
    assert first.post(f"/tenders/{tender.id}/hall/verdict", data={"verdict": "confirmed"}).status_code == 302
    short = second.post(f"/tenders/{tender.id}/hall/verdict", data={"verdict": "objected", "remark": "不"})
    assert short.status_code == 302
    second.post(
        f"/tenders/{tender.id}/hall/verdict", data={"verdict": "objected", "remark": "我公司的工期读错了。"}
    )
    reread(session)
    rows = {a.organization_id: a for a in session.scalars(select(HallAttendance))}
    assert rows[submitted[0][0].user.organization_id].verdict == "confirmed"
    assert rows[submitted[1][0].user.organization_id].remark == "我公司的工期读错了。"
    again = first.post(
        f"/tenders/{tender.id}/hall/verdict", data={"verdict": "objected", "remark": "改变主意了"}
    )
    assert again.status_code == 302
    reread(session)
    assert (
        session.get(HallAttendance, (tender.id, submitted[0][0].user.organization_id)).verdict == "confirmed"
    )


def test_the_embedded_beat_runs_the_schedule_in_the_web_process(
    config, people, session, tender, client, tmp_path
):
    """`make run` (embedded mode): the first request a process serves starts the beat thread, which runs
    the same Celery tasks on their schedule; a second process on the same instance leaves it to the first."""
    from core.app import create_app

    bidders(client, people, session, tender, tmp_path)
    clock.freeze(tender.bid_deadline + timedelta(seconds=2))
    session.commit()
    served = create_app({**config, "EMBEDDED_BEAT": True, "EMBEDDED_BEAT_TICK": 0.2})
    second = create_app({**config, "EMBEDDED_BEAT": True})
    try:
        assert served.test_client().get("/api/v1/receipt-key").status_code == 200
        assert second.test_client().get("/api/v1/receipt-key").status_code == 200
        beat = served.extensions[scheduler.EXTENSION]
        assert scheduler.EXTENSION not in second.extensions  # one scheduler per instance (beat.lock)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            reread(session)
            if session.get(Opening, tender.id) is not None:
                break
            time.sleep(0.2)
        assert session.get(Opening, tender.id).status == "decrypting"
        assert beat.runs["bidding-run-openings"] >= 1
        assert set(beat.runs) == set(served.extensions["celery"].conf.beat_schedule)  # every job ran
    finally:
        if scheduler.EXTENSION in served.extensions:
            served.extensions[scheduler.EXTENSION].shutdown()
        for app in (served, second):
            app.extensions["sunbid.db"]["engine"].dispose()


@pytest.mark.worker
def test_r_t5_a_real_celery_beat_and_worker_start_the_opening(
    tmp_path, config, client, people, session, tender
):
    """PostgreSQL + Redis: `celery beat` sends the job on its schedule and a `celery worker` starts the
    opening of a tender whose deadline the sandbox clock has passed."""
    from tests.conftest import PG_URL, REDIS_URL
    from tests.servers import celery_worker, server_clock

    if not (PG_URL and REDIS_URL):
        pytest.skip("needs SUNBID_TEST_DATABASE_URL and SUNBID_TEST_REDIS_URL (the CI's second run)")
    bidders(client, people, session, tender, tmp_path)
    server_clock(session, tender.bid_deadline + timedelta(seconds=5))
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SUNBID_")},
        "SUNBID_DATABASE_URL": PG_URL,
        "SUNBID_REDIS_URL": REDIS_URL,
        "SUNBID_INSTANCE_PATH": config["INSTANCE_PATH"],
        "SUNBID_SECRET_KEY": "test-secret",
        "SUNBID_SANDBOX": "1",
        "SUNBID_WITNESS_URL": config.get("WITNESS_URL") or "",
        "SUNBID_WITNESS_KEY": config.get("WITNESS_KEY") or "",
        "SUNBID_AUDIT_ORIGIN": config.get("AUDIT_ORIGIN", ""),
    }
    beat = subprocess.Popen(
        [
            os.sys.executable,
            "-m",
            "celery",
            "-A",
            "core.worker",
            "beat",
            "--loglevel=WARNING",
            "-s",
            str(tmp_path / "celerybeat-schedule"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:
        with celery_worker(env):
            started = None
            deadline = time.monotonic() + 60
            while started is None and time.monotonic() < deadline:
                time.sleep(0.5)
                reread(session)
                started = session.get(Opening, tender.id)
            assert started is not None, "beat and worker did not start the opening within 60 s"
            assert started.status == "decrypting" and started.started_by_id is None
    finally:
        beat.terminate()
        beat.wait(timeout=30)


def test_r_t5_the_agency_starts_the_opening_where_no_scheduler_ran(
    app, client, people, session, tender, tmp_path
):
    """The fallback: past the deadline with no opening, the agency's hall offers the start button."""
    bidders(client, people, session, tender, tmp_path)
    agent = tender_agent(people, session, tender)
    page = app.test_client()
    sign_in(page, people, agent)
    assert 'id="start-form"' not in page.get(f"/tenders/{tender.id}/hall").get_data(as_text=True)
    clock.freeze(tender.bid_deadline + timedelta(minutes=2))
    hall_page = page.get(f"/tenders/{tender.id}/hall").get_data(as_text=True)
    assert 'id="start-form"' in hall_page and 'id="hall-starting"' in hall_page
    assert page.post(f"/tenders/{tender.id}/hall/start").status_code == 302
    reread(session)
    row = session.get(Opening, tender.id)
    assert row.status == "decrypting" and row.started_by_id == agent.id
    assert tasks.run_openings() == 0  # the beat finds it started


def test_r_b4_signing_in_through_the_api_is_the_halls_sign_in(app, client, people, session, tender, tmp_path):
    """签到 for programs (API.md): the same service as the hall's button, so the hall shows it, nobody
    else learns of it before the deadline (R-B4), and only bidders sign in, only before the deadline."""
    submitted = bidders(client, people, session, tender, tmp_path)
    me = submitted[0][0].user
    url = f"/api/v1/tenders/{tender.id}/opening/sign-in"
    other = app.test_client()
    sign_in(other, people, submitted[1][0].user)
    before = other.get(f"/tenders/{tender.id}/hall/board").headers["ETag"]
    answer = client.post(url, headers=auth(people, client, me))
    assert answer.status_code == 200, answer.get_json()
    signed_at = answer.get_json()["signed_in_at"]
    assert signed_at and answer.get_json()["verdict"] is None
    clock.advance(timedelta(seconds=31))
    again = client.post(url, headers=auth(people, client, me))
    assert again.status_code == 200 and again.get_json()["signed_in_at"] == signed_at  # once
    page = app.test_client()
    sign_in(page, people, me)
    assert 'id="signed-in"' in page.get(f"/tenders/{tender.id}/hall").get_data(as_text=True)
    assert other.get(f"/tenders/{tender.id}/hall/board", headers={"If-None-Match": before}).status_code == 304
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "bidding.hall_signed_in")).all()
    assert len(entries) == 1 and entries[0].sealed  # R-B4: sealed with the bids
    # a tenderer without a bid, the agency: refused; after the deadline: closed
    clock.advance(timedelta(seconds=31))
    outsider = client.post(url, headers=auth(people, client, people.user(Role.TENDERER, "api-outsider")))
    assert outsider.status_code == 403 and outsider.get_json()["error"]["code"] == "not_a_bidder"
    agent = client.post(url, headers=auth(people, client, tender_agent(people, session, tender)))
    assert agent.status_code == 403
    clock.freeze(tender.bid_deadline + timedelta(seconds=1))
    late = client.post(url, headers=auth(people, client, submitted[1][0].user))
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "sign_in_closed"
    reread(session)
    assert session.get(HallAttendance, (tender.id, submitted[1][0].user.organization_id)) is None


def test_r_b7_confirming_the_record_through_the_api_is_the_halls_confirmation(
    app, client, people, session, tender, tmp_path
):
    """签字确认 for programs: the hall's service, once per company, and the hall shows it (R-B7)."""
    submitted = bidders(client, people, session, tender, tmp_path)
    url = f"/api/v1/tenders/{tender.id}/opening/record/verdict"
    first, second = submitted[0][0].user, submitted[1][0].user
    outsider = people.user(Role.TENDERER, "api-x")
    clock.freeze(tender.bid_deadline)
    tasks.run_openings()
    early = client.post(url, json={"verdict": "confirmed"}, headers=auth(people, client, first))
    assert early.status_code == 409 and early.get_json()["error"]["code"] == "opening_not_closed"
    for bidder, bid_id, sealed in submitted:
        decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, sealed))
    clock.freeze(session.get(Opening, tender.id).decrypt_until)
    tasks.run_openings()
    reread(session)
    pdf_sha = session.get(Opening, tender.id).record_pdf_sha256
    confirmed = client.post(url, json={"verdict": "confirmed"}, headers=auth(people, client, first))
    assert confirmed.status_code == 200, confirmed.get_json()
    assert (
        confirmed.get_json()["verdict"] == "confirmed"
        and confirmed.get_json()["record_pdf_sha256"] == pdf_sha
    )
    clock.advance(timedelta(seconds=31))
    twice = client.post(
        url, json={"verdict": "objected", "remark": "改变主意了"}, headers=auth(people, client, first)
    )
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "verdict_given"
    short = client.post(
        url, json={"verdict": "objected", "remark": "不"}, headers=auth(people, client, second)
    )
    assert short.status_code == 422 and short.get_json()["error"]["details"]["field"] == "remark"
    clock.advance(timedelta(seconds=31))
    odd = client.post(url, json={"verdict": "maybe"}, headers=auth(people, client, second))
    assert odd.status_code == 422 and odd.get_json()["error"]["code"] == "invalid_input"
    clock.advance(timedelta(seconds=31))
    objected = client.post(
        url,
        json={"verdict": "objected", "remark": "我公司的工期读错了。"},
        headers=auth(people, client, second),
    )
    assert objected.status_code == 200 and objected.get_json()["remark"] == "我公司的工期读错了。"
    # the hall shows both, as if signed from its page; the page's button is gone for them
    page = app.test_client()
    sign_in(page, people, first)
    html = page.get(f"/tenders/{tender.id}/hall").get_data(as_text=True)
    assert 'id="my-verdict"' in html and 'id="verdict-form"' not in html and "我公司的工期读错了。" in html
    stranger = client.post(url, json={"verdict": "confirmed"}, headers=auth(people, client, outsider))
    assert set(get_args(VerdictBody.model_fields["verdict"].annotation)) == set(hall.VERDICT_ACTIONS)
    # the closed record's hall is public, its signature is the bidders' alone
    assert stranger.status_code == 403 and stranger.get_json()["error"]["code"] == "not_a_bidder"


def test_r_b7_an_objection_answered_in_the_hall_goes_back_to_the_hall(
    app, client, people, session, tender, tmp_path
):
    """One view answers objections for the tender's page and the hall; each comes back to its page."""
    _submitted, objector = opened(app, client, people, session, tender, tmp_path)
    objector.post(f"/tenders/{tender.id}/hall/objections", data={"text": "第二家的工期与要求不一致。"})
    reread(session)
    objection = session.scalars(select(Objection)).one()
    agent = app.test_client()
    sign_in(agent, people, tender_agent(people, session, tender))
    html = agent.get(f"/tenders/{tender.id}/hall").get_data(as_text=True)
    action = f"/agency/tenders/{tender.id}/objections/{objection.id}/answer"
    assert f'action="{action}"' in html and 'name="back" value="hall"' in html
    short = agent.post(action, data={"answer": "否", "back": "hall"})
    assert short.status_code == 302 and short.headers["Location"].endswith(
        f"/tenders/{tender.id}/hall#hall-objections"
    )
    reread(session)
    assert session.get(Objection, objection.id).answered_at is None  # refused: too short
    done = agent.post(action, data={"answer": "已核实：工期满足要求。", "back": "hall"})
    assert done.headers["Location"].endswith(f"/tenders/{tender.id}/hall#hall-objections")
    reread(session)
    assert session.get(Objection, objection.id).answer == "已核实：工期满足要求。"
    # from the tender's page (no back, or an unknown one): back to the tender's page
    for back in ({}, {"back": "https://elsewhere.example/"}):
        again = agent.post(action, data={"answer": "再答一次。", **back})
        assert again.headers["Location"].endswith(f"/tenders/{tender.id}#objections")


@contextmanager
def statements(app):
    """The SQL statements the app runs meanwhile."""
    seen: list[str] = []
    engine = app.extensions["sunbid.db"]["engine"]

    def note(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_a_poll_of_an_unchanged_board_costs_no_database_read(
    app, client, people, session, tender, tmp_path, monkeypatch
):
    """The 304 path from memory (bidding.hall_views): once the full path has checked the watcher's session
    and rights, its polls of an unchanged board read nothing from the database and render nothing; a
    change is still seen at once (hall_changes drops the facts after the commit), and a second watcher
    of the same company gets the changed board from the one render, with its own form token."""
    submitted, watcher = opened(app, client, people, session, tender, tmp_path)
    board = f"/tenders/{tender.id}/hall/board"
    colleague = app.test_client()
    sign_in(colleague, people, submitted[0][0].user)
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)  # each form's token is checked from here
    tag = watcher.get(board).headers["ETag"]
    colleague_tag = colleague.get(board).headers["ETag"]
    with statements(app) as seen:
        for _ in range(3):
            assert watcher.get(board, headers={"If-None-Match": tag}).status_code == 304
    assert seen == []
    bidder, bid_id, sealed = submitted[1]
    decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, sealed))
    changed = watcher.get(board, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and bidder.user.organization.name in changed.get_data(as_text=True)
    with statements(app) as seen:
        theirs = colleague.get(board, headers={"If-None-Match": colleague_tag})
    assert theirs.status_code == 200 and len(seen) <= 2  # at most the hall's facts, read again
    mine, their_page = changed.get_data(as_text=True), theirs.get_data(as_text=True)
    assert bidder.user.organization.name in their_page and "hall-csrf-" not in their_page
    token = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
    assert token.findall(mine) and token.findall(mine)[0] != token.findall(their_page)[0]
    # the colleague's token is its session's: its form posts go through, not with the other's
    stolen = colleague.post(
        f"/tenders/{tender.id}/hall/objections",
        data={"text": "第二家的报价单缺少签章。", "csrf_token": token.findall(mine)[0]},
    )
    assert stolen.status_code == 400
    assert (
        colleague.post(
            f"/tenders/{tender.id}/hall/objections",
            data={"text": "第二家的报价单缺少签章。", "csrf_token": token.findall(their_page)[0]},
        ).status_code
        == 302
    )
    reread(session)
    assert session.scalars(select(Objection)).one().text == "第二家的报价单缺少签章。"


def test_a_signed_out_session_is_refused_at_once(app, client, people, session, tender, tmp_path, monkeypatch):
    """The polls trust a check of the session for a while (hall_views.CHECKED_FOR), but a session that
    ends (sign-out here; a disabled account or a changed password alike: accounts.sessions) ends there at
    once: a copy of its cookie gets neither 'not modified' nor the board (issue 14: sessions die at once).
    Another watcher's remembered check is made again, and stands."""
    submitted, watcher = opened(app, client, people, session, tender, tmp_path)
    board = f"/tenders/{tender.id}/hall/board"
    tag = watcher.get(board).headers["ETag"]
    other = app.test_client()
    sign_in(other, people, submitted[1][0].user)
    other_tag = other.get(board).headers["ETag"]
    copy = app.test_client()
    copy.set_cookie("sunbid_session", watcher.get_cookie("sunbid_session").value)
    assert copy.get(board, headers={"If-None-Match": tag}).status_code == 304  # the same session, alive
    watcher.post("/sign-out")
    assert copy.get(board, headers={"If-None-Match": tag}).status_code == 404
    assert copy.get(board).status_code == 404
    assert other.get(board, headers={"If-None-Match": other_tag}).status_code == 304


def test_a_change_on_another_host_is_seen_through_the_shared_stamp(
    app, client, people, session, tender, tmp_path, monkeypatch
):
    """hall_changes.facts: a process keeps the hall's facts while nothing says they changed; a change
    made elsewhere (rows committed by another host, its Redis stamp moved) is read at the next poll.
    Without Redis, the facts are kept KEPT_WITHOUT_STAMP seconds. (Redis: the CI's second run.)"""
    opened(app, client, people, session, tender, tmp_path)
    elsewhere = update(Tender).where(Tender.id == tender.id).values(hall_revision=Tender.hall_revision + 1)
    first = hall_changes.facts(session, tender.id)
    assert hall_changes.facts(session, tender.id) is first
    url = os.environ.get("SUNBID_TEST_REDIS_URL")
    if url is None:
        session.execute(elsewhere)  # as another host: no after-commit here to drop this process's facts
        session.info.pop("hall.changed", None)
        session.commit()
        monkeypatch.setattr(hall_changes, "KEPT_WITHOUT_STAMP", 0.0)
        assert hall_changes.facts(session, tender.id).revision == first.revision + 1
        return
    monkeypatch.setitem(app.config, "HALL_CACHE_URL", url)
    stamped = hall_changes.facts(session, tender.id)
    session.execute(elsewhere)
    session.commit()
    assert hall_changes.facts(session, tender.id) is stamped  # nothing said it changed: kept
    redis.Redis.from_url(url).incr(f"sunbid:hall:{tender.id}")  # the other host's after-commit
    assert hall_changes.facts(session, tender.id).revision == stamped.revision + 1
