"""The deposit ledger: R-D1 basic account and cap, refunds on time (R-D2, R-D3, R-D4) with interest,
forfeiture (R-B6), confidentiality before the deadline, and books that always balance."""

import uuid
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bidding import bank, ledger, lifecycle
from bidding.calendar import Calendar
from bidding.models import BankTransaction, Deposit, InterestRate, LedgerLine, Tender
from core import clock
from core.errors import Conflict, Invalid
from core.roles import Role
from demo import bank as demo_bank
from tests.bidding.test_tenders import auth, draft, publish

ACCOUNT = "6222020200112233445"


@pytest.fixture
def bidder(people, session):
    user = people.user(Role.TENDERER, "bidder")
    user.organization.basic_account_bank, user.organization.basic_account_no = "工商银行北京分行", ACCOUNT
    session.commit()
    return user


def bank_pays(session, bidder, tender, **changes):
    """The tenderer takes its payment reference, its bank transfers the money, the centre imports the
    statement (bidding/bank.py): the statement line's outcome."""
    lot_number = changes.pop("lot_number", 1)
    reference = bank.issue_reference(session, bidder, tender, lot_number)
    line = demo_bank.Line(
        changes.pop("amount_fen", reference.amount_fen),
        changes.pop("payer_account", bidder.organization.basic_account_no or ""),
        changes.pop("payer_name", bidder.organization.name),
        changes.pop("memo", f"{reference.reference} 投标保证金"),
        changes.pop("paid_at", clock.now()),
        sub_account=reference.sub_account,
    )
    assert not changes, changes
    account = bank.deposit_account()
    data = demo_bank.csv_statement(account.number, account.name, [line])
    bank.import_statement(session, None, filename="statement.csv", data=data)
    session.commit()
    return session.scalars(select(BankTransaction).where(BankTransaction.bank_ref == line.bank_ref)).one()


def pay(session, bidder, tender, **changes):
    """A deposit held after the bank confirmed it (None when the statement line did not match)."""
    row = bank_pays(session, bidder, tender, **changes)
    return session.get(Deposit, row.deposit_id) if row.outcome == "matched" else None


def pay_through_api(client, headers, tender, user) -> str:
    """A deposit in money as a tenderer pays it: the API says where to pay and with which reference
    (202), the bank's statement shows it paid from the basic account, and it is held; returns its id."""
    from core.db import db

    response = client.post(
        f"/api/v1/tenders/{tender.id}/deposits",
        headers=headers,
        json={
            "kind": "money",
            "lot": 1,
            "amount": {"amount_fen": tender.lots[0].deposit_fen, "currency": "CNY"},
        },
    )
    assert response.status_code == 202, response.get_json()
    db.session.rollback()  # the request committed the reference in its own session
    deposit = pay(db.session, db.session.get(type(user), user.id), db.session.get(type(tender), tender.id))
    assert deposit is not None
    return str(deposit.id)


def test_r_d1_money_must_come_from_the_basic_account(session, bidder, tender):
    other = bank_pays(session, bidder, tender, payer_account="6222000011112222")
    assert (other.outcome, other.detail) == ("refused", "not_basic_account")
    name = bank_pays(session, bidder, tender, payer_name="另一家公司")
    assert (name.outcome, name.detail) == ("refused", "not_basic_account")
    assert session.scalar(select(Deposit.id)) is None  # the tenderer's word is not enough: nothing held
    deposit = pay(session, bidder, tender, payer_account="6222 0202 0011 2233 445")  # spaces as printed
    assert deposit.status == "held" and deposit.payer_account == ACCOUNT
    refused = other.amount_fen + name.amount_fen
    assert ledger.balances(session)[ledger.ESCROW] == deposit.amount_fen + refused
    assert ledger.balances(session)[ledger.SUSPENSE] == -refused  # owed back to the payers


def test_a_short_payment_is_partial_and_an_overpayment_is_held_whole(session, bidder, tender):
    lot = tender.lots[0]
    short = bank_pays(session, bidder, tender, amount_fen=lot.deposit_fen - 1)
    assert (short.outcome, short.detail) == ("partial", "short") and short.deposit_id is None
    deposit = pay(session, bidder, tender, amount_fen=lot.deposit_fen + 100)
    assert deposit.amount_fen == lot.deposit_fen + 100


def test_a_second_payment_goes_back_and_no_details_after_the_deadline(session, people, bidder, tender):
    assert pay(session, bidder, tender) is not None
    twice = bank_pays(session, bidder, tender)
    assert (twice.outcome, twice.detail) == ("unmatched", "reference_used")
    clock.freeze(tender.bid_deadline)
    with pytest.raises(Conflict) as err:
        bank.issue_reference(session, people.user(Role.TENDERER, "too-late"), tender, 1)
    assert err.value.code == "deposit_closed"


def test_a_payment_after_the_deadline_is_refused_as_late(session, bidder, tender):
    bank.issue_reference(session, bidder, tender, 1)
    session.commit()
    late = bank_pays(session, bidder, tender, paid_at=tender.bid_deadline)
    assert (late.outcome, late.detail) == ("refused", "late")


def test_r_d2_withdrawal_refund_within_5_days_with_interest(session, bidder, tender):
    session.add(
        InterestRate(kind="deposit", effective_from=date(2020, 1, 1), annual_bps=35)
    )  # 0.35% demand rate
    session.commit()
    deposit = pay(session, bidder, tender)
    paid_day = clock.local(deposit.paid_at).date()
    clock.freeze(deposit.paid_at + timedelta(days=30))
    ledger.schedule_refund(session, deposit, "withdrawal", clock.now())
    assert (
        ledger.schedule_refund(session, deposit, "withdrawal", clock.now()).status == "refund_due"
    )  # idempotent
    due_day = clock.local(deposit.refund_due_at - timedelta(seconds=1)).date()
    assert due_day == Calendar.load(session).period_end(paid_day + timedelta(days=30), 5)
    ledger.execute_refund(session, deposit)
    session.commit()
    # 30 days at 0.35% a year on the deposit, exactly, rounded to the fen
    expected = int(Fraction(deposit.amount_fen * 35 * 30, 10000 * 365) + Fraction(1, 2))
    assert deposit.status == "refunded" and deposit.interest_fen == expected > 0
    assert ledger.balances(session)[ledger.ESCROW] == -expected  # paid out more than came in: the interest
    assert ledger.trial_balance(session) == 0
    assert ledger.execute_refund(session, deposit).interest_fen == expected  # idempotent


def test_r_d4_procurement_refund_in_5_working_days_and_late_charge(client, people, cast, session, bidder):
    body = draft(client, people, cast, track="procurement")
    publish(client, people, cast, body["id"])
    session.rollback()
    tender = session.get(Tender, uuid.UUID(body["id"]))
    clock.freeze(tender.documents_from + timedelta(hours=1))
    session.add_all(
        [
            InterestRate(kind="deposit", effective_from=date(2020, 1, 1), annual_bps=35),
            InterestRate(kind="lending", effective_from=date(2020, 1, 1), annual_bps=345),
        ]
    )
    session.commit()
    deposit = pay(session, bidder, tender)
    award = datetime(2027, 1, 8, 2, tzinfo=UTC)  # a Friday
    ledger.schedule_refund(session, deposit, "result", award)
    # 5 working days after Friday 8 January 2027 is Friday 15 January
    assert clock.local(deposit.refund_due_at - timedelta(seconds=1)).date() == date(2027, 1, 15)
    clock.freeze(deposit.refund_due_at + timedelta(days=3, hours=1))
    ledger.execute_refund(session, deposit)
    session.commit()
    late = int(Fraction(deposit.amount_fen * 345 * 4, 10000 * 365) * Fraction(12, 10) + Fraction(1, 2))
    assert deposit.late_charge_fen == late > 0
    assert ledger.trial_balance(session) == 0


def test_r_b6_forfeited_deposit_goes_to_income(session, bidder, tender):
    deposit = pay(session, bidder, tender)
    ledger.forfeit(session, deposit, "decryption failed through the tenderer's fault")
    session.commit()
    assert ledger.balances(session)[ledger.FORFEITED] == -deposit.amount_fen
    assert ledger.trial_balance(session) == 0


def guarantee(session, bidder, tender, **changes):
    args = dict(
        lot_number=1,
        amount_fen=tender.lots[0].deposit_fen,
        insurer="人保财险",
        policy_number="BH2026-0001",
        valid_until=tender.bid_deadline + timedelta(days=90),
        file_sha256="a" * 64,
        verification_ref="YZ-8842-1177",
    )
    args.update(changes)
    return ledger.record_guarantee(session, bidder, tender, **args)


def test_guarantee_moves_no_money(session, bidder, tender):
    deposit = guarantee(session, bidder, tender)
    session.commit()
    assert deposit.kind == "guarantee" and deposit.verification_ref == "YZ-8842-1177"
    assert session.scalars(select(LedgerLine)).all() == []
    with pytest.raises(Invalid):  # it must cover the bid deadline
        guarantee(session, bidder, tender, valid_until=tender.bid_deadline - timedelta(days=1))
    session.rollback()
    with pytest.raises(Invalid) as err:  # the insurer's verification reference is required
        guarantee(session, bidder, tender, verification_ref=" ")
    assert err.value.details["fields"] == ["verification_ref"]


def test_deposits_are_confidential_until_the_deadline(client, people, cast, session, bidder, tender):
    pay(session, bidder, tender)
    agent_auth = auth(people, client, cast["agent"])
    before = client.get(f"/api/v1/tenders/{tender.id}/deposits", headers=agent_auth).get_json()
    assert before["items"] == [] and before["hidden_until"]
    own = client.get(f"/api/v1/tenders/{tender.id}/deposits", headers=auth(people, client, bidder)).get_json()
    assert len(own["items"]) == 1
    clock.freeze(tender.bid_deadline)
    after = client.get(f"/api/v1/tenders/{tender.id}/deposits", headers=auth(people, client, cast["agent"]))
    assert len(after.get_json()["items"]) == 1


def test_deposit_api_with_basic_account(client, people, session, tender):
    user = people.user(Role.TENDERER, "api-bidder")
    headers = auth(people, client, user)
    assert (
        client.put(
            "/api/v1/organizations/mine/basic-account",
            json={"bank": "建设银行", "account_no": "abc"},
            headers=headers,
        ).status_code
        == 422
    )
    assert (
        client.put(
            "/api/v1/organizations/mine/basic-account",
            json={"bank": "建设银行", "account_no": ACCOUNT},
            headers=headers,
        ).status_code
        == 200
    )
    response = client.post(
        f"/api/v1/tenders/{tender.id}/deposits",
        headers=headers,
        json={
            "kind": "money",
            "lot": 1,
            "amount": {"amount_fen": tender.lots[0].deposit_fen, "currency": "CNY"},
        },
    )
    assert response.status_code == 202, response.get_json()  # where to pay: held only once the bank says so
    instructions = response.get_json()
    assert instructions["status"] == "awaiting_payment" and instructions["reference"].startswith("BZ")
    assert instructions["account"]["sub_account"].endswith(tender.code[-6:])
    statement = client.get("/api/v1/deposits/statement", headers=headers).get_json()
    assert statement["items"] == []
    session.rollback()
    assert pay(session, session.get(type(user), user.id), tender) is not None
    statement = client.get("/api/v1/deposits/statement", headers=headers).get_json()
    assert statement["items"][0]["status"] == "held"
    float_amount = client.post(
        f"/api/v1/tenders/{tender.id}/deposits",
        headers=headers,
        json={"kind": "guarantee", "lot": 1, "amount": {"amount_fen": 1.5}},
    )
    # Whole fen only: the schema refuses a float before any service runs, naming the field.
    assert float_amount.status_code == 422 and float_amount.get_json()["error"]["code"] == "invalid_input"
    assert float_amount.get_json()["error"]["details"]["fields"] == ["amount.amount_fen"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["pay", "refund", "forfeit"]), st.integers(0, 4)), max_size=25))
def test_books_always_balance(session, people, tender, operations):
    """Whatever happens to deposits, every transaction balances and escrow equals what is owed."""
    bidders = []
    for n in range(5):
        user = people.user(Role.TENDERER)
        user.organization.basic_account_no = f"62220202{n:011d}"
        bidders.append(user)
    session.commit()
    for action, who in operations:
        user = bidders[who]
        held = session.scalar(
            select(Deposit).where(Deposit.organization_id == user.organization_id, Deposit.status == "held")
        )
        try:
            if action == "pay":
                pay(session, user, tender, payer_account=user.organization.basic_account_no)
            elif action == "refund" and held:
                ledger.schedule_refund(session, held, "withdrawal", clock.now())
                ledger.execute_refund(session, held)
            elif action == "forfeit" and held:
                ledger.forfeit(session, held, "test")
            session.commit()
        except Conflict:
            session.rollback()
        assert ledger.trial_balance(session) == 0
        balances = ledger.balances(session)
        owed = sum(v for k, v in balances.items() if k.startswith("deposit:"))
        expense = balances.get(ledger.INTEREST, 0) + balances.get(ledger.LATE, 0)
        others = balances.get(ledger.FORFEITED, 0) + balances.get(ledger.SUSPENSE, 0)
        assert balances.get(ledger.ESCROW, 0) + owed + expense + others == 0
    assert lifecycle.phase(tender, clock.now()) == lifecycle.Phase.BIDDING
