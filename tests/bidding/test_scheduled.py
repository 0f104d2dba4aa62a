"""Scheduled jobs and the refund batch read the platform clock (core.clock), in a sandbox too: guarantees
are released at the time the sandbox clock says, interest accrues for the platform days held (R-D3), and a
refund paid after its due date carries the late charge (R-D4). In-process here; with a real Celery worker
on PostgreSQL + Redis in the CI's second run."""

import os
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest
from sqlalchemy import select

from bidding import bank, ledger, tasks
from bidding.models import Deposit, InterestRate, RefundBatch, Tender
from core import clock
from core.roles import Role
from demo import bank as demo_bank
from tests.bidding.test_ledger import ACCOUNT, guarantee, pay_through_api
from tests.bidding.test_tenders import auth, draft, publish

DEPOSIT_BPS, LENDING_BPS = 35, 345


def expected(deposit: Deposit, paid: date, refunded: date, due: date) -> tuple[int, int]:
    """Interest for the days held, and the late charge for each day from ``due`` (the first day past the
    last allowed one: the due moment is the midnight that starts it) to the day of the refund (R-D3, R-D4)."""
    held = (refunded - paid).days
    late_days = (refunded - due).days + 1
    interest = int(Fraction(deposit.amount_fen * DEPOSIT_BPS * held, 10000 * 365) + Fraction(1, 2))
    late = int(
        Fraction(deposit.amount_fen * LENDING_BPS * late_days, 10000 * 365) * Fraction(12, 10)
        + Fraction(1, 2)
    )
    return interest, late


@pytest.fixture
def procurement(client, people, cast, session):
    """A published procurement tender (R-D4 applies) and a tenderer with its basic account."""
    from accounts import pki

    pki.ensure_ca(session)
    session.add_all(
        [
            InterestRate(kind="deposit", effective_from=date(2020, 1, 1), annual_bps=DEPOSIT_BPS),
            InterestRate(kind="lending", effective_from=date(2020, 1, 1), annual_bps=LENDING_BPS),
        ]
    )
    session.commit()
    body = draft(client, people, cast, track="procurement")
    assert publish(client, people, cast, body["id"]).status_code == 200
    session.rollback()
    bidder = people.user(Role.TENDERER, "sandbox-bidder")
    bidder.organization.basic_account_no = ACCOUNT
    session.commit()
    return session.get(Tender, uuid.UUID(body["id"])), bidder


def set_sandbox_clock(client, headers, at: datetime) -> None:
    response = client.post("/api/v1/sandbox/clock", json={"now": at.isoformat()}, headers=headers)
    assert response.status_code == 200, response.get_json()


def test_sandbox_guarantee_release_job_runs_on_the_platform_clock(
    app, client, people, cast, session, procurement
):
    """R-D2: the beat job, in a process that has not seen the sandbox clock, releases an e-guarantee whose
    refund is scheduled, and records the release at platform time."""
    tender, bidder = procurement
    app.config["SANDBOX"] = True
    clock.freeze(None)  # the sandbox clock runs, as on a sandbox deployment
    # One sign-in: the platform clock moves back and forth, and a TOTP code is never taken twice.
    admin = auth(people, client, people.user(Role.ADMIN, "sandbox-admin"))
    lodged_at = tender.documents_from + timedelta(hours=2)
    set_sandbox_clock(client, admin, lodged_at)
    deposit = guarantee(session, bidder, tender)
    ledger.schedule_refund(session, deposit, "result", lodged_at + timedelta(days=60))
    session.commit()
    deposit_id, due = deposit.id, deposit.refund_due_at

    release_time = due - timedelta(days=1)  # released on the next run, before the latest allowed day
    set_sandbox_clock(client, admin, release_time)
    clock.set_offset(timedelta(0))
    assert abs(clock.now() - datetime.now(UTC)) < timedelta(minutes=1)
    assert tasks.pay_refunds() == 1
    session.rollback()
    session.expire_all()  # the job wrote in its own session
    deposit = session.get(Deposit, deposit_id)
    assert deposit.status == "refunded"
    assert abs(deposit.refunded_at - release_time) < timedelta(minutes=1)  # platform time, not the real one
    assert deposit.interest_fen == 0 == deposit.late_charge_fen  # no money was held
    assert tasks.pay_refunds() == 0  # idempotent


def test_sandbox_refund_batch_counts_interest_to_the_platform_date(
    app, client, people, cast, session, procurement
):
    """R-D3, R-D4: a money refund goes to the bank in a batch made at platform time, with the interest for
    the platform days held and the late charge for the platform days past due; the statement settles it."""
    tender, bidder = procurement
    app.config["SANDBOX"] = True
    clock.freeze(None)
    admin_user = people.user(Role.ADMIN, "sandbox-admin")
    admin = auth(people, client, admin_user)
    paid_at = tender.documents_from + timedelta(hours=2)
    set_sandbox_clock(client, admin, paid_at)
    deposit_id = uuid.UUID(pay_through_api(client, auth(people, client, bidder), tender, bidder))
    session.rollback()
    deposit = session.get(Deposit, deposit_id)
    ledger.schedule_refund(session, deposit, "result", paid_at + timedelta(days=60))
    session.commit()
    due = deposit.refund_due_at
    batch_time = due + timedelta(days=3, hours=1)  # the operator made the batch three days late
    set_sandbox_clock(client, admin, batch_time)

    response = client.post("/api/v1/bank/refund-batches", headers=admin)
    assert response.status_code == 201, response.get_json()
    session.rollback()
    session.expire_all()
    deposit = session.get(Deposit, deposit_id)
    (line,) = session.get(RefundBatch, uuid.UUID(response.get_json()["id"])).lines
    interest, late = expected(
        deposit, clock.local(deposit.paid_at).date(), clock.local(batch_time).date(), clock.local(due).date()
    )
    assert line.interest_fen == interest > 0  # R-D3: for the ~63 platform days held
    assert line.late_charge_fen == late > 0  # R-D4: three days late at the lending rate plus 20%
    assert line.amount_fen == deposit.amount_fen + interest + late

    account = bank.deposit_account()
    debits = demo_bank.pay_batch(bank.batch_file(line.batch), batch_time)
    data = demo_bank.csv_statement(account.number, account.name, debits)
    bank.import_statement(session, admin_user, filename="out.csv", data=data)
    session.commit()
    session.refresh(deposit)
    assert deposit.status == "refunded" and deposit.refunded_at == debits[0].booked_at
    assert (deposit.interest_fen, deposit.late_charge_fen) == (interest, late)
    assert ledger.trial_balance(session) == 0


@pytest.mark.worker
def test_sandbox_release_job_on_a_real_worker(tmp_path, config, client, people, cast, session, procurement):
    """PostgreSQL + Redis: a separate `celery worker` in a sandbox releases a guarantee at platform time."""
    from tests.conftest import PG_URL, REDIS_URL
    from tests.servers import celery_worker, server_clock

    if not (PG_URL and REDIS_URL):
        pytest.skip("needs SUNBID_TEST_DATABASE_URL and SUNBID_TEST_REDIS_URL (the CI's second run)")
    tender, bidder = procurement
    deposit = guarantee(session, bidder, tender)
    ledger.schedule_refund(session, deposit, "result", clock.now() + timedelta(days=45))
    session.commit()
    deposit_id, due = deposit.id, deposit.refund_due_at
    platform_time = due + timedelta(days=2, hours=3)  # months after the real date, past the due date
    server_clock(session, platform_time)

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SUNBID_")},
        "SUNBID_DATABASE_URL": PG_URL,
        "SUNBID_REDIS_URL": REDIS_URL,
        "SUNBID_INSTANCE_PATH": config["INSTANCE_PATH"],
        "SUNBID_SECRET_KEY": "test-secret",
        "SUNBID_SANDBOX": "1",
    }
    refunded = None
    with celery_worker(env):
        from core.app import create_app

        sender = create_app({**config, "REDIS_URL": REDIS_URL, "CELERY_EAGER": False})
        with sender.app_context():
            sender.extensions["celery"].send_task(tasks.pay_refunds.name)
        deadline = time.monotonic() + 60
        while refunded is None and time.monotonic() < deadline:
            time.sleep(0.3)
            session.rollback()
            refunded = session.scalar(
                select(Deposit).where(Deposit.id == deposit_id, Deposit.status == "refunded")
            )
        assert refunded is not None, "the worker did not release the guarantee within 60 s"
    assert abs(refunded.refunded_at - platform_time) < timedelta(minutes=2)


def test_every_task_and_beat_job_runs_in_the_platform_clock_wrapper(app):
    """Each task (beat jobs included) goes through AppContextTask, which loads the sandbox clock first."""
    from core.tasks import AppContextTask

    celery = app.extensions["celery"]
    ours = {name: task for name, task in celery.tasks.items() if not name.startswith("celery.")}
    assert {"bidding.pay_refunds", "experts.expire_calls", "accounts.refresh_crl"} <= set(ours)
    assert all(isinstance(task, AppContextTask) for task in ours.values())
    assert {job["task"] for job in celery.conf.beat_schedule.values()} <= set(ours)
