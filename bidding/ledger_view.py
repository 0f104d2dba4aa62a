"""The deposit ledger in view (R-D3): a tender's entries and trial balance for its agency and supervisors,
a tenderer's statement of its deposits with the refunds and the interest for the days held, and the
platform-wide check behind ``flask ledger check``. It only reads: ``bidding.ledger`` writes the books.

A trial balance lists each account's debits and credits; the books balance when the debits equal the
credits, i.e. every transaction's lines sum to zero (ARCHITECTURE "Money"). The check also compares
each deposit with its account: a held deposit is owed in full, a refunded or forfeited one owes nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import Organization, User
from bidding import ledger, services
from bidding.calendar import local_date
from bidding.models import Deposit, LedgerLine, LedgerTransaction, Tender
from bidding.permissions import Scope, sealed_scope
from bidding.services import DEPOSIT_CAP_PERCENT
from core.db import get_row

ACCOUNT_LABELS = {
    ledger.ESCROW: _l("Deposit escrow account (bank)"),
    ledger.INTEREST: _l("Interest paid on refunds (R-D3)"),
    ledger.LATE: _l("Late-refund charges (R-D4)"),
    ledger.FORFEITED: _l("Forfeited deposits (R-B6)"),
}
ENTRY_LABELS = {
    "deposit_paid": _l("Deposit paid in"),
    "deposit_refunded": _l("Deposit refunded"),
    "deposit_forfeited": _l("Deposit forfeited"),
}
DEPOSIT_STATUS = {
    "held": _l("held"),
    "refund_due": _l("refund due"),
    "refunded": _l("refunded"),
    "forfeited": _l("forfeited"),
}
DEPOSIT_KIND = {"money": _l("money"), "guarantee": _l("e-guarantee")}
REFUND_REASONS = {
    "withdrawal": _l("bid withdrawn"),
    "failure": _l("tender failed"),
    "contract": _l("contract signed"),
    "result": _l("result notice"),
}


def rules() -> tuple[str, list[tuple[str, str]]]:
    """The deposits' time limits in words, for the rules page."""
    items = [
        (
            "R-D1",
            _l(
                "A deposit is at most %(cap)s%% of the estimated price; paid in money it comes from the "
                "tenderer's own basic account, or an electronic guarantee replaces it.",
                cap=DEPOSIT_CAP_PERCENT,
            ),
        ),
        (
            "R-D2",
            _l(
                "A bid withdrawn before the deadline has its deposit refunded within %(n)s days.",
                n=ledger.REFUND_DAYS,
            ),
        ),
        (
            "R-D3",
            _l(
                "Every deposit is refunded within %(n)s days after the contract is signed (or the tender "
                "fails), with interest at the bank deposit rate for the days held: from the day after "
                "payment to the day of the refund. Tenderers see it on their deposit statement.",
                n=ledger.REFUND_DAYS,
            ),
        ),
        (
            "R-D4",
            _l(
                "Procurement: refunds within %(n)s working days of the result notice (the others) or of the "
                "contract (the winner); a late refund adds a charge at the lending rate plus 20%% for each "
                "day late.",
                n=ledger.REFUND_DAYS,
            ),
        ),
    ]
    return str(_l("Deposits")), [(rule, str(text)) for rule, text in items]


@dataclass
class Line:
    account: str
    label: str
    amount_fen: int  # debit positive, credit negative

    @property
    def debit_fen(self) -> int:
        return max(self.amount_fen, 0)

    @property
    def credit_fen(self) -> int:
        return max(-self.amount_fen, 0)


@dataclass
class Entry:
    id: uuid.UUID
    kind: str
    label: str
    booked_at: datetime
    memo: str
    lines: list[Line]

    @property
    def balanced(self) -> bool:
        return sum(line.amount_fen for line in self.lines) == 0


@dataclass
class AccountRow:
    account: str
    label: str
    debit_fen: int = 0
    credit_fen: int = 0

    @property
    def balance_fen(self) -> int:
        return self.debit_fen - self.credit_fen


@dataclass
class TrialBalance:
    rows: list[AccountRow]
    unbalanced: list[str] = field(default_factory=list)  # transactions whose lines do not sum to zero

    @property
    def debit_fen(self) -> int:
        return sum(row.debit_fen for row in self.rows)

    @property
    def credit_fen(self) -> int:
        return sum(row.credit_fen for row in self.rows)

    @property
    def balanced(self) -> bool:
        return self.debit_fen == self.credit_fen and not self.unbalanced


class Labels:
    """Names accounts in words: a deposit's account by its tenderer and lot."""

    def __init__(self, session: Session, deposits: list[Deposit]) -> None:
        names = dict(
            session.execute(
                select(Organization.id, Organization.name).where(
                    Organization.id.in_({d.organization_id for d in deposits})
                )
            ).all()
        )
        self._deposits = {
            ledger.deposit_account(d): str(
                _l("Owed to %(org)s, lot %(lot)s", org=names.get(d.organization_id, "?"), lot=d.lot_number)
            )
            for d in deposits
        }

    def __call__(self, account: str) -> str:
        if account in self._deposits:
            return self._deposits[account]
        return str(ACCOUNT_LABELS.get(account, account))


def _entries(session: Session, transactions: list[LedgerTransaction], labels: Labels) -> list[Entry]:
    return [
        Entry(
            t.id,
            t.kind,
            str(ENTRY_LABELS.get(t.kind, t.kind)),
            t.booked_at,
            t.memo,
            [Line(line.account, labels(line.account), line.amount_fen) for line in t.lines],
        )
        for t in transactions
    ]


def trial_balance(entries: list[Entry]) -> TrialBalance:
    rows: dict[str, AccountRow] = {}
    for entry in entries:
        for line in entry.lines:
            row = rows.setdefault(line.account, AccountRow(line.account, line.label))
            row.debit_fen += line.debit_fen
            row.credit_fen += line.credit_fen
    return TrialBalance(
        sorted(rows.values(), key=lambda r: (r.account.startswith("deposit:"), r.label)),
        [str(e.id) for e in entries if not e.balanced],
    )


def ledger_tender(session: Session, actor: User, tender_id: uuid.UUID) -> tuple[Tender, bool]:
    """The tender whose ledger ``actor`` (its agency or a supervisor) asks for, and whether it is still
    sealed: before the bid deadline the ledger would tell who paid a deposit, so it shows nothing (R-B4)."""
    tender = services.visible(session, None, tender_id)
    return tender, sealed_scope(session, actor, tender) is Scope.SEALED


def tender_ledger(session: Session, tender: Tender) -> tuple[list[Entry], TrialBalance]:
    """The tender's ledger entries in the order booked, and their trial balance."""
    transactions = sorted(
        session.scalars(select(LedgerTransaction).where(LedgerTransaction.tender_id == tender.id)),
        # Lines are numbered as they are written: that orders entries booked in the same instant.
        key=lambda t: (t.booked_at, min(line.id for line in t.lines)),
    )
    deposits = list(session.scalars(select(Deposit).where(Deposit.tender_id == tender.id)))
    entries = _entries(session, transactions, Labels(session, deposits))
    return entries, trial_balance(entries)


# -- a tenderer's statement -------------------------------------------------------------------------


@dataclass
class StatementRow:
    deposit: Deposit
    tender: Tender
    days_held: int
    interest_fen: int  # paid with the refund, or accrued to date while held
    late_charge_fen: int
    returned_fen: int | None  # what came back, once refunded
    settled: bool  # refunded or forfeited: the figures are final

    @property
    def kind_label(self) -> str:
        return str(DEPOSIT_KIND.get(self.deposit.kind, self.deposit.kind))

    @property
    def status_label(self) -> str:
        return str(DEPOSIT_STATUS.get(self.deposit.status, self.deposit.status))

    @property
    def reason_label(self) -> str:
        reason = self.deposit.refund_reason
        return str(REFUND_REASONS.get(reason, reason)) if reason else ""


def _forfeited_at(session: Session, deposit: Deposit) -> datetime | None:
    return session.scalar(
        select(LedgerTransaction.booked_at).where(
            LedgerTransaction.deposit_id == deposit.id, LedgerTransaction.kind == "deposit_forfeited"
        )
    )


def statement(session: Session, organization_id: uuid.UUID, now: datetime) -> list[StatementRow]:
    """Every deposit of the organisation, newest first, with the days held (the first day not counted,
    R-T6) and the interest: as paid with the refund, or accrued to ``now`` while still held (R-D3)."""
    rows = []
    for deposit in session.scalars(
        select(Deposit).where(Deposit.organization_id == organization_id).order_by(Deposit.created_at.desc())
    ):
        tender = get_row(session, Tender, deposit.tender_id)
        if deposit.status == "refunded":
            end, interest, late = deposit.refunded_at or now, deposit.interest_fen, deposit.late_charge_fen
            returned = deposit.amount_fen + interest + late if deposit.kind == "money" else None
        elif deposit.status == "forfeited":
            end, interest, late, returned = _forfeited_at(session, deposit) or now, 0, 0, 0
        else:
            figures = ledger.refund_figures(session, deposit, now)
            end, interest, late, returned = now, figures.interest_fen, figures.late_charge_fen, None
        rows.append(
            StatementRow(
                deposit,
                tender,
                max((local_date(end) - local_date(deposit.paid_at)).days, 0),
                interest,
                late,
                returned,
                deposit.status in ("refunded", "forfeited"),
            )
        )
    return rows


# -- the whole ledger, checked -----------------------------------------------------------------------


@dataclass
class Check:
    trial_balance: TrialBalance
    problems: list[str]

    @property
    def ok(self) -> bool:
        return self.trial_balance.balanced and not self.problems


def check(session: Session) -> Check:
    """Prove the books balance: every transaction sums to zero, so does the whole ledger, and each
    deposit's account holds what its state says is owed."""
    rows = [
        AccountRow(account, "", int(debit), int(credit))
        for account, debit, credit in session.execute(
            # |x| + x is twice a debit and |x| - x twice a credit: portable SQL, exact in integers.
            select(
                LedgerLine.account,
                func.sum(func.abs(LedgerLine.amount_fen) + LedgerLine.amount_fen) / 2,
                func.sum(func.abs(LedgerLine.amount_fen) - LedgerLine.amount_fen) / 2,
            )
            .group_by(LedgerLine.account)
            .order_by(LedgerLine.account)
        )
    ]
    unbalanced = [
        str(tid)
        for tid in session.scalars(
            select(LedgerLine.transaction_id)
            .group_by(LedgerLine.transaction_id)
            .having(func.sum(LedgerLine.amount_fen) != 0)
        )
    ]
    balances = ledger.balances(session)
    problems = [f"transaction {tid} does not sum to zero" for tid in unbalanced]
    for deposit in session.scalars(select(Deposit).order_by(Deposit.created_at)):
        owed = -balances.get(ledger.deposit_account(deposit), 0)
        expected = (
            deposit.amount_fen if deposit.kind == "money" and deposit.status in ("held", "refund_due") else 0
        )
        if owed != expected:
            problems.append(
                f"deposit {deposit.id} ({deposit.status}) owes {owed} fen on its account, expected {expected}"
            )
    return Check(TrialBalance(rows, unbalanced), problems)
