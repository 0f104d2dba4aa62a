"""The deposit ledger (投标保证金): double entry in integer fen, refunds on time with interest.

Accounts are named strings. Debits are positive, credits negative, and every transaction's lines sum
to zero, so the books always balance:

- ``escrow:bank``           the platform's deposit escrow account (asset: money held)
- ``deposit:<deposit id>``  what is owed back to the tenderer for one deposit (liability)
- ``expense:interest``      interest paid on refunds at the bank deposit rate (R-D3)
- ``expense:late_refund``   the charge for a late refund, lending rate plus 20% (R-D4)
- ``income:forfeited``      a deposit kept because the bid was revoked through the tenderer's fault (R-B6)
- ``suspense:bank``         money the bank statement shows that matches no deposit (or a refund): owed back
                            to its payer until returned (bidding/bank.py)

E-guarantees (电子保函) move no money: they are recorded as deposits of kind ``guarantee`` with no lines.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

import audit
from accounts import verification
from accounts.models import User
from bidding.calendar import Calendar, local_date, start_of_local_day
from bidding.lifecycle import deadline_passed
from bidding.models import Deposit, InterestRate, LedgerLine, LedgerTransaction, Tender
from bidding.permissions import bid_scope
from bidding.services import DEPOSIT_CAP_PERCENT
from core import clock
from core.db import get_row
from core.errors import Conflict, Forbidden, Invalid
from core.roles import Role
from credit.services import refuse_if_debarred

ESCROW = "escrow:bank"
INTEREST = "expense:interest"
LATE = "expense:late_refund"
FORFEITED = "income:forfeited"
SUSPENSE = "suspense:bank"
REFUND_DAYS = 5  # R-D2, R-D3: within 5 days
LATE_SURCHARGE = Fraction(12, 10)  # R-D4: lending rate plus 20%
REFUND_REASONS = ("withdrawal", "failure", "contract", "result")


def deposit_account(deposit: Deposit) -> str:
    return f"deposit:{deposit.id}"


def book(
    session: Session,
    kind: str,
    lines: list[tuple[str, int]],
    *,
    tender_id=None,
    deposit_id=None,
    memo: str = "",
) -> LedgerTransaction:
    """Record one balanced transaction; refuses (as a bug) anything that does not sum to zero."""
    lines = [(account, amount) for account, amount in lines if amount]
    if sum(amount for _account, amount in lines) != 0 or not lines:
        raise ValueError(f"unbalanced ledger transaction {kind}: {lines}")
    transaction = LedgerTransaction(
        kind=kind, tender_id=tender_id, deposit_id=deposit_id, memo=memo[:300], booked_at=clock.now()
    )
    transaction.lines = [LedgerLine(account=account, amount_fen=amount) for account, amount in lines]
    session.add(transaction)
    session.flush()
    return transaction


@dataclass
class Entry:
    """One transaction for ``book_many``: the same fields as ``book`` takes."""

    kind: str
    lines: list[tuple[str, int]]
    tender_id: object = None
    deposit_id: object = None
    memo: str = ""


def book_many(session: Session, entries: list[Entry]) -> int:
    """Record many balanced transactions at once (a bank statement's lines): the same rule as ``book``,
    written with two bulk inserts instead of one unit of work per transaction."""
    now = clock.now()
    transactions: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    for entry in entries:
        kept = [(account, amount) for account, amount in entry.lines if amount]
        if not kept or sum(amount for _account, amount in kept) != 0:
            raise ValueError(f"unbalanced ledger transaction {entry.kind}: {kept}")
        transaction_id = uuid.uuid4()
        transactions.append(
            {
                "id": transaction_id,
                "kind": entry.kind,
                "tender_id": entry.tender_id,
                "deposit_id": entry.deposit_id,
                "memo": entry.memo[:300],
                "booked_at": now,
            }
        )
        lines.extend(
            {"transaction_id": transaction_id, "account": account, "amount_fen": amount, "currency": "CNY"}
            for account, amount in kept
        )
    if transactions:
        session.execute(insert(cast(Table, LedgerTransaction.__table__)), transactions)
        session.execute(insert(cast(Table, LedgerLine.__table__)), lines)
    return len(transactions)


def _lot(tender: Tender, number: int):
    lot = next((lot for lot in tender.lots if lot.number == number), None)
    if lot is None:
        raise Invalid(
            _l("This tender has no lot %(n)s.", n=number), code="lot_not_found", details={"lot": number}
        )
    return lot


def _check_open(tender: Tender, actor: User, now: datetime) -> None:
    if actor.role != Role.TENDERER or actor.organization_id is None:
        raise Forbidden(_l("Only tenderers pay deposits."), code="role_forbidden")
    verification.require_verified(actor.organization)  # identity before bidding
    if tender.status != "published" or deadline_passed(tender, now):
        raise Conflict(_l("Deposits are accepted only until the bid deadline."), code="deposit_closed")


def _new_deposit(session: Session, tender: Tender, lot_number: int, org_id, **fields) -> Deposit:
    """One held deposit per tenderer and lot: a second one is a conflict, not a top-up."""
    held = session.scalar(
        select(Deposit.id).where(
            Deposit.tender_id == tender.id,
            Deposit.lot_number == lot_number,
            Deposit.organization_id == org_id,
            Deposit.status.in_(("held", "refund_due")),
        )
    )
    if held is not None:
        raise Conflict(_l("A deposit for this lot is already held."), code="deposit_exists")
    deposit = Deposit(tender_id=tender.id, lot_number=lot_number, organization_id=org_id, **fields)
    session.add(deposit)
    session.flush()
    return deposit


def _check_amount(tender: Tender, lot_number: int, amount_fen: int) -> None:
    lot = _lot(tender, lot_number)
    if amount_fen * 100 > lot.estimated_price_fen * DEPOSIT_CAP_PERCENT:  # R-D1
        raise Invalid(
            _l("A deposit may not exceed 2 percent of the estimated price."),
            code="deposit_over_cap",
            details={"rule": "R-D1", "max_fen": lot.estimated_price_fen * DEPOSIT_CAP_PERCENT // 100},
        )
    if amount_fen < lot.deposit_fen:
        raise Invalid(
            _l("The deposit is less than the tender requires."),
            code="deposit_insufficient",
            details={"required_fen": lot.deposit_fen},
        )


def record_guarantee(
    session: Session,
    actor: User,
    tender: Tender,
    *,
    lot_number: int,
    amount_fen: int,
    insurer: str,
    policy_number: str,
    valid_until: datetime,
    file_sha256: str,
    verification_ref: str = "",
    ip: str | None = None,
) -> Deposit:
    """An electronic guarantee instead of money (R-D1); it must cover the bid deadline. The insurer's
    verification reference (验真码) lets the agency and the committee check it with the insurer."""
    now = clock.now()
    _check_open(tender, actor, now)
    refuse_if_debarred(session, "tenderer", actor.org.id, now)  # R-R3
    _check_amount(tender, lot_number, amount_fen)
    if valid_until < tender.time_of("bid_deadline"):
        raise Invalid(_l("The guarantee must stay valid past the bid deadline."), code="guarantee_too_short")
    if len(file_sha256) != 64 or any(c not in "0123456789abcdef" for c in file_sha256):
        raise Invalid(_l("Give the SHA-256 of the guarantee file."), code="invalid_digest")
    missing = [
        name
        for name, value in (
            ("insurer", insurer),
            ("policy_number", policy_number),
            ("verification_ref", verification_ref),
        )
        if not value.strip()
    ]
    if missing:
        raise Invalid(
            _l("Give the insurer, the policy number and the insurer's verification reference."),
            code="missing_fields",
            details={"fields": missing},
        )
    deposit = _new_deposit(
        session,
        tender,
        lot_number,
        actor.organization_id,
        kind="guarantee",
        amount_fen=amount_fen,
        paid_at=now,
        insurer=insurer.strip()[:200],
        policy_number=policy_number.strip()[:100],
        verification_ref=verification_ref.strip()[:100],
        valid_until=valid_until,
        file_sha256=file_sha256,
    )
    audit.record(
        session,
        actor,
        "bidding.guarantee_filed",
        deposit,
        {
            "tender": str(tender.id),
            "lot": lot_number,
            "amount_fen": amount_fen,
            "insurer": deposit.insurer,
            "policy_number": deposit.policy_number,
            "verification_ref": deposit.verification_ref,
            "file_sha256": file_sha256,
        },
        ip,
        sealed=bid_scope(deposit.tender_id),
    )
    return deposit


def refund_due_date(tender: Tender, reason: str, triggered_at: datetime, calendar: Calendar) -> datetime:
    """When the refund must be made: 5 days (R-D2, R-D3); procurement 5 working days (R-D4)."""
    start = local_date(triggered_at)
    if tender.track == "procurement" and reason in ("contract", "result"):
        last = calendar.add_working_days(start, REFUND_DAYS)
    else:
        last = calendar.period_end(start, REFUND_DAYS)

    return start_of_local_day(last + timedelta(days=1))  # due by the end of that day


def schedule_refund(
    session: Session,
    deposit: Deposit,
    reason: str,
    triggered_at: datetime,
    actor: User | None = None,
    ip: str | None = None,
) -> Deposit:
    if reason not in REFUND_REASONS:
        raise ValueError(reason)
    if deposit.status != "held":
        return deposit  # idempotent: a refund already scheduled or made is not scheduled again
    tender = get_row(session, Tender, deposit.tender_id)
    deposit.status = "refund_due"
    deposit.refund_reason = reason
    deposit.refund_due_at = refund_due_date(tender, reason, triggered_at, Calendar.load(session))
    session.flush()
    audit.record(
        session,
        actor,
        "bidding.refund_scheduled",
        deposit,
        {"reason": reason, "due_at": deposit.refund_due_at.isoformat()},
        ip,
        sealed=bid_scope(deposit.tender_id),
    )
    return deposit


def _rates(session: Session, kind: str) -> list[tuple[date, int]]:
    return [
        (d, bps)
        for d, bps in session.execute(
            select(InterestRate.effective_from, InterestRate.annual_bps)
            .where(InterestRate.kind == kind)
            .order_by(InterestRate.effective_from)
        )
    ]


def accrue(amount_fen: int, start: date, end: date, rates: list[tuple[date, int]]) -> Fraction:
    """Simple interest, day by day at the rate in force that day, from the day after ``start`` (R-T6)."""
    total = Fraction(0)
    day = start + timedelta(days=1)
    while day <= end:
        bps = 0
        for effective, rate in rates:
            if effective <= day:
                bps = rate
        total += Fraction(amount_fen * bps, 10000 * 365)
        day += timedelta(days=1)
    return total


def _round(value: Fraction) -> int:
    return int(value + Fraction(1, 2)) if value >= 0 else -int(-value + Fraction(1, 2))


@dataclass
class RefundFigures:
    interest_fen: int
    late_charge_fen: int


def refund_figures(session: Session, deposit: Deposit, at: datetime) -> RefundFigures:
    if deposit.kind != "money":
        return RefundFigures(0, 0)
    interest = _round(
        accrue(deposit.amount_fen, local_date(deposit.paid_at), local_date(at), _rates(session, "deposit"))
    )
    late = 0
    tender = get_row(session, Tender, deposit.tender_id)
    if tender.track == "procurement" and deposit.refund_due_at and at > deposit.refund_due_at:
        late = _round(
            accrue(
                deposit.amount_fen,
                local_date(deposit.refund_due_at) - timedelta(days=1),
                local_date(at),
                _rates(session, "lending"),
            )
            * LATE_SURCHARGE
        )
    return RefundFigures(interest, late)


def execute_refund(
    session: Session, deposit: Deposit, actor: User | None = None, ip: str | None = None
) -> Deposit:
    """Settle a scheduled refund now with interest (and the late charge when late); idempotent. Money
    refunds are settled by the bank statement that shows them paid (bidding/bank.py); this serves the
    e-guarantees, which move no money, and the figures' tests."""
    if deposit.status != "refund_due":
        return deposit
    now = clock.now()
    return settle_refund(session, deposit, refund_figures(session, deposit, now), now, actor, ip)


def settle_refund(
    session: Session,
    deposit: Deposit,
    figures: RefundFigures,
    paid_at: datetime,
    actor: User | None = None,
    ip: str | None = None,
    *,
    bank_ref: str | None = None,
) -> Deposit:
    """Book a refund paid at ``paid_at`` with the given interest and late charge, and mark it refunded."""
    if deposit.kind == "money":
        total = deposit.amount_fen + figures.interest_fen + figures.late_charge_fen
        book(
            session,
            "deposit_refunded",
            [
                (deposit_account(deposit), deposit.amount_fen),
                (INTEREST, figures.interest_fen),
                (LATE, figures.late_charge_fen),
                (ESCROW, -total),
            ],
            tender_id=deposit.tender_id,
            deposit_id=deposit.id,
            memo=" ".join(filter(None, (deposit.refund_reason, bank_ref))),
        )
    deposit.status = "refunded"
    deposit.refunded_at = paid_at
    deposit.interest_fen, deposit.late_charge_fen = figures.interest_fen, figures.late_charge_fen
    session.flush()
    audit.record(
        session,
        actor,
        "bidding.deposit_refunded",
        deposit,
        {
            "amount_fen": deposit.amount_fen,
            "interest_fen": figures.interest_fen,
            "late_charge_fen": figures.late_charge_fen,
            "reason": deposit.refund_reason,
            "on_time": deposit.refund_due_at is None or paid_at <= deposit.refund_due_at,
            "bank_ref": bank_ref,
        },
        ip,
        sealed=bid_scope(deposit.tender_id),
    )
    return deposit


def forfeit(
    session: Session, deposit: Deposit, reason: str, actor: User | None = None, ip: str | None = None
) -> Deposit:
    """Keep a deposit (a bid revoked through the tenderer's fault, R-B6)."""
    if deposit.status != "held":
        raise Conflict(_l("Only a held deposit can be forfeited."), code="deposit_not_held")
    if deposit.kind == "money":
        book(
            session,
            "deposit_forfeited",
            [(deposit_account(deposit), deposit.amount_fen), (FORFEITED, -deposit.amount_fen)],
            tender_id=deposit.tender_id,
            deposit_id=deposit.id,
            memo=reason,
        )
    deposit.status = "forfeited"
    session.flush()
    audit.record(
        session,
        actor,
        "bidding.deposit_forfeited",
        deposit,
        {"reason": reason},
        ip,
        sealed=bid_scope(deposit.tender_id),
    )
    return deposit


def refunds_due(session: Session, now: datetime) -> list[Deposit]:
    """Scheduled refunds to pay now: all of them, paid as soon as they are scheduled (the due date is
    the latest allowed day, not the day to wait for)."""
    return list(
        session.scalars(select(Deposit).where(Deposit.status == "refund_due").order_by(Deposit.refund_due_at))
    )


def balances(session: Session, accounts: list[str] | None = None) -> dict[str, int]:
    query = select(LedgerLine.account, func.sum(LedgerLine.amount_fen)).group_by(LedgerLine.account)
    if accounts:
        query = query.where(LedgerLine.account.in_(accounts))
    return {account: int(total) for account, total in session.execute(query)}


def trial_balance(session: Session) -> int:
    """The sum of every line ever booked: zero when the books balance (tested as an invariant)."""
    return int(session.scalar(select(func.coalesce(func.sum(LedgerLine.amount_fen), 0))) or 0)
