"""Deposits confirmed by the bank (保证金代收代退): payment references, statement matching, refund batches.

A tenderer who pays its deposit in money transfers it from its basic account (基本账户) to the tender's
virtual sub-account (子账户) of the centre's deposit account, writing its payment reference (缴款识别码)
in the memo (附言). The centre's finance staff import the account's statements; each credit is matched
to its reference, and a deposit is held only then, and only when the bank's payer data shows the
tenderer's own basic account (R-D1), before the bid deadline, for at least the required amount. Money
that matches no deposit is booked to suspense and returned. Refunds (R-D2..R-D4) and returns go to the
bank as a payment batch file; each is marked paid when a later statement shows its debit.

Every line of a statement gets one outcome, kept with the import:

- ``matched``      a deposit is now held
- ``partial``      less than the lot requires: held in suspense, returned in the next refund batch
- ``refused``      the payment breaks a rule (``not_basic_account`` R-D1, ``late``, ``tender_closed``,
                   ``deposit_exists``): in suspense, returned
- ``unmatched``    no known reference (``no_reference``, ``unknown_reference``, ``reference_used``,
                   ``wrong_sub_account``), or a debit that is no refund (``unknown_debit``,
                   ``refund_mismatch``)
- ``refund_paid``  the debit of a refund batch line: the refund (or the return) is settled
- ``duplicate``    already imported (``already_imported``) or twice in the file (``repeated``): not booked
- ``foreign``      another account's line (``other_account``), another currency (``other_currency``),
                   or not booked yet (``not_booked``): not booked
- ``malformed``    a line that cannot be read: the whole file is refused, nothing is imported

The books: every booked line moves ``escrow:bank`` by exactly its amount, against the deposit's account
(matched), ``suspense:bank`` (everything else) or the refund's accounts (refund_paid), so the escrow
balance always equals the money the bank statements show and every transaction sums to zero.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import secrets
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

import audit
from accounts.models import Organization, User
from bidding import ledger, permissions, statements
from bidding.models import (
    BankStatement,
    BankTransaction,
    Deposit,
    DepositReference,
    RefundBatch,
    RefundLine,
    Tender,
)
from core import clock
from core.db import get_row
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.roles import Role

# References: two letters, seven random characters and a check character, from an alphabet without the
# look-alikes 0/O, 1/I/L, so that a reference typed into a bank's memo field survives.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
DEPOSIT_PREFIX, REFUND_PREFIX = "BZ", "TK"
SUSPENSE_OUTCOMES = ("partial", "refused", "unmatched")
CHUNK_ROWS = 5000  # statement lines decided and written at a time
NOT_BOOKED = ("duplicate", "foreign")
CHUNK = 500  # ids per IN (...) query


@dataclass(frozen=True)
class DepositAccount:
    """保证金专户: the centre's account where deposits are paid, from the configuration."""

    bank: str
    name: str
    number: str
    sub_prefix: str

    def sub_account(self, tender: Tender) -> str:
        """The tender's virtual sub-account: the prefix, then the tender's number (ZB-2026-000123 gives
        26000123)."""
        _zb, year, serial = (tender.code or "--").split("-")  # a draft has no number (and takes no deposit)
        return f"{self.sub_prefix}{year[-2:]}{serial}"


def deposit_account() -> DepositAccount | None:
    config = current_app.config
    bank, name, number = (
        str(config.get(k) or "") for k in ("DEPOSIT_BANK", "DEPOSIT_ACCOUNT_NAME", "DEPOSIT_ACCOUNT_NO")
    )
    if not (bank and name and number):
        return None
    return DepositAccount(
        bank, name, number, "".join(str(config.get("DEPOSIT_SUBACCOUNT_PREFIX") or "").split())
    )


def _require_account() -> DepositAccount:
    account = deposit_account()
    if account is None:
        raise Conflict(
            _l("The centre's deposit account is not configured (SUNBID_DEPOSIT_*): deposits cannot be paid."),
            code="deposit_account_missing",
        )
    return account


# -- references -----------------------------------------------------------------------------------------


def _check_character(body: str) -> str:
    total = sum((i + 1) * ALPHABET.index(c) for i, c in enumerate(body))
    return ALPHABET[total % len(ALPHABET)]


def new_reference(prefix: str) -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(7))
    return prefix + body + _check_character(body)


def valid_reference(text: str, prefix: str) -> bool:
    body = text[len(prefix) :]
    return (
        text.startswith(prefix)
        and len(body) == 8
        and all(c in ALPHABET for c in body)
        and _check_character(body[:7]) == body[7]
    )


_CANDIDATE = {
    prefix: re.compile(rf"(?<![0-9A-Z]){prefix}[{ALPHABET}]{{8}}(?![0-9A-Z])")
    for prefix in (DEPOSIT_PREFIX, REFUND_PREFIX)
}


def find_reference(memo: str, prefix: str) -> str | None:
    """The first valid reference in a memo, as typed or with the spaces and dashes people add removed."""
    upper = memo.upper()
    if prefix[0] not in upper or prefix[1] not in upper:
        return None  # most memos of other payments: no need to look further
    for text in (upper, re.sub(r"[\s\-－_]", "", upper)):
        for candidate in _CANDIDATE[prefix].findall(text):
            if valid_reference(candidate, prefix):
                return candidate
    return None


def _lot(tender: Tender, number: int):
    lot = next((lot for lot in tender.lots if lot.number == number), None)
    if lot is None:
        raise Invalid(
            _l("This tender has no lot %(n)s.", n=number), code="lot_not_found", details={"field": "lot"}
        )
    return lot


def issue_reference(
    session: Session, actor: User, tender: Tender, lot_number: int, ip: str | None = None
) -> DepositReference:
    """The tenderer's payment details for one lot: the same reference when asked again."""
    from credit.services import refuse_if_debarred

    account = _require_account()
    if actor.role != Role.TENDERER or actor.organization_id is None:
        raise Forbidden(_l("Only tenderers pay deposits."), code="role_forbidden")
    lot = _lot(tender, lot_number)
    existing = session.scalar(
        select(DepositReference).where(
            DepositReference.tender_id == tender.id,
            DepositReference.lot_number == lot_number,
            DepositReference.organization_id == actor.organization_id,
        )
    )
    if existing is not None:
        return existing
    now = clock.now()
    if tender.status != "published" or now >= tender.time_of("bid_deadline"):
        raise Conflict(_l("Deposits are accepted only until the bid deadline."), code="deposit_closed")
    refuse_if_debarred(session, "tenderer", actor.organization_id, now)  # R-R3
    if lot.deposit_fen <= 0:
        raise Conflict(_l("This lot asks for no deposit."), code="no_deposit_required")
    reference = DepositReference(
        reference=new_reference(DEPOSIT_PREFIX),
        tender_id=tender.id,
        lot_number=lot_number,
        organization_id=actor.organization_id,
        sub_account=account.sub_account(tender),
        amount_fen=lot.deposit_fen,
        issued_by_id=actor.id,
    )
    session.add(reference)
    session.flush()
    audit.record(
        session,
        actor,
        "bidding.deposit_reference_issued",
        reference,
        {"tender": str(tender.id), "lot": lot_number, "reference": reference.reference},
        ip,
        sealed=permissions.bid_scope(tender.id),  # who means to bid is secret until the deadline (R-B4)
    )
    return reference


def set_basic_account(
    session: Session, actor: User, bank_name: str, account_no: str, ip: str | None = None
) -> Organization:
    """基本账户: the tenderer's registered main account, the only one its deposits may come from (R-D1)."""
    if actor.role != Role.TENDERER or actor.organization_id is None:
        raise Forbidden(_l("Only tenderers register a basic account."), code="role_forbidden")
    number = _digits(account_no or "")
    if not number.isdigit() or not 8 <= len(number) <= 32:
        raise Invalid(
            _l("An account number is 8 to 32 digits."),
            code="invalid_account_no",
            details={"field": "account_no"},
        )
    name = (bank_name or "").strip()
    if not 2 <= len(name) <= 100:
        raise Invalid(
            _l("Give the bank and branch of the account."), code="invalid_bank", details={"field": "bank"}
        )
    org = actor.org
    org.basic_account_bank, org.basic_account_no = name, number
    session.flush()
    audit.record(session, actor, "accounts.basic_account_set", org, {"bank": name, "account_no": number}, ip)
    return org


@dataclass
class LotPayment:
    """What a tenderer sees for one lot: what to pay, where, with which reference, and what arrived."""

    lot_number: int
    lot_name: str
    required_fen: int
    reference: DepositReference | None
    deposit: Deposit | None
    received: list[BankTransaction] = field(default_factory=list)  # payments seen but not held

    @property
    def state(self) -> str:
        """held, refund_due, refunded, forfeited (the deposit's own), or awaiting_payment, not_requested."""
        if self.deposit is not None:
            return self.deposit.status
        return "awaiting_payment" if self.reference is not None else "not_requested"


def payment_status(session: Session, organization_id, tender: Tender) -> list[LotPayment]:
    references = {
        r.lot_number: r
        for r in session.scalars(
            select(DepositReference).where(
                DepositReference.tender_id == tender.id, DepositReference.organization_id == organization_id
            )
        )
    }
    deposits = {
        d.lot_number: d
        for d in session.scalars(
            select(Deposit)
            .where(Deposit.tender_id == tender.id, Deposit.organization_id == organization_id)
            .order_by(Deposit.created_at)
        )
    }
    received: dict[uuid.UUID, list[BankTransaction]] = {}
    ids = [r.id for r in references.values()]
    if ids:
        for row in session.scalars(
            select(BankTransaction)
            .where(BankTransaction.deposit_reference_id.in_(ids), BankTransaction.outcome != "matched")
            .order_by(BankTransaction.booked_at)
        ):
            if row.deposit_reference_id is not None:
                received.setdefault(row.deposit_reference_id, []).append(row)
    return [
        LotPayment(
            lot.number,
            lot.name,
            lot.deposit_fen,
            references.get(lot.number),
            deposits.get(lot.number),
            received.get(references[lot.number].id, []) if lot.number in references else [],
        )
        for lot in tender.lots
    ]


# -- statement import -----------------------------------------------------------------------------------


@dataclass
class _Known:
    """What the matching needs about one payment reference, read in bulk."""

    id: uuid.UUID
    tender_id: uuid.UUID
    lot_number: int
    organization_id: uuid.UUID
    sub_account: str
    amount_fen: int
    deposit_id: uuid.UUID | None
    deposit_status: str | None
    tender_code: str
    tender_status: str
    bid_deadline: datetime
    basic_account_no: str | None
    org_name: str


@dataclass
class ImportResult:
    statement: BankStatement
    counts: dict[str, int]


def _chunks(values: list, size: int = CHUNK):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _known_references(session: Session, references: set[str]) -> dict[str, _Known]:
    known = {}
    for chunk in _chunks(sorted(references)):
        rows = session.execute(
            select(
                DepositReference.reference,
                DepositReference.id,
                DepositReference.tender_id,
                DepositReference.lot_number,
                DepositReference.organization_id,
                DepositReference.sub_account,
                DepositReference.amount_fen,
                DepositReference.deposit_id,
                Deposit.status,
                Tender.code,
                Tender.status,
                Tender.bid_deadline,
                Organization.basic_account_no,
                Organization.name,
            )
            .join(Tender, Tender.id == DepositReference.tender_id)
            .join(Organization, Organization.id == DepositReference.organization_id)
            .outerjoin(Deposit, Deposit.id == DepositReference.deposit_id)
            .where(DepositReference.reference.in_(chunk))
        )
        for ref, *rest in rows:
            known[ref] = _Known(*rest)
    return known


def _held_elsewhere(session: Session, known: dict[str, _Known]) -> set[tuple]:
    """(tender, lot, organisation) that already hold a deposit (an e-guarantee, say): one per lot. A
    refunded one does not count: a tenderer that withdrew may pay again to bid again."""
    tenders = sorted({k.tender_id for k in known.values()})
    held: set[tuple[Any, ...]] = set()
    for chunk in _chunks(tenders):
        held.update(
            session.execute(
                select(Deposit.tender_id, Deposit.lot_number, Deposit.organization_id).where(
                    Deposit.tender_id.in_(chunk), Deposit.status == "held"
                )
            ).all()
        )
    return held


def _already_imported(session: Session, account_no: str, refs: list[str]) -> set[str]:
    seen: set[str] = set()
    for chunk in _chunks(refs):
        seen.update(
            session.scalars(
                select(BankTransaction.bank_ref).where(
                    BankTransaction.account_no == account_no, BankTransaction.bank_ref.in_(chunk)
                )
            )
        )
    return seen


def _awaiting_payment() -> tuple:
    """A refund batch line the bank has neither paid (per a statement) nor declined (cancelled)."""
    return (RefundLine.paid_transaction_id.is_(None), RefundLine.cancelled_at.is_(None))


def _open_refund_lines(session: Session, refs: set[str]) -> dict[str, RefundLine]:
    lines = {}
    for chunk in _chunks(sorted(refs)):
        for line in session.scalars(
            select(RefundLine).where(RefundLine.reference.in_(chunk), *_awaiting_payment())
        ):
            lines[line.reference] = line
    return lines


def _digits(text: str) -> str:
    return "".join(text.split())


class _Matcher:
    """Decides each line's outcome, a chunk of lines at a time, and writes what a chunk decided (so that a
    large statement is never held whole in memory). The caller's rollback of a refusal undoes it all."""

    def __init__(self, session: Session, account: DepositAccount, statement: BankStatement) -> None:
        self.session, self.account, self.statement = session, account, statement
        self.in_file: set[str] = set()
        self.used: set[str] = set()
        self.counts: Counter = Counter()
        self.skipped: list[list] = []
        self.digest = hashlib.sha256()
        self.lines = self.ours = 0
        self.suspense_fen = self.suspense_lines = 0
        self.settlements: list[tuple[RefundLine, dict]] = []
        self._clear()

    def _clear(self) -> None:
        self.transactions: list[dict] = []
        self.deposits: list[dict] = []
        self.entries: list[ledger.Entry] = []
        self.reference_updates: list[dict] = []

    def _prefetch(self, rows: list[statements.Row]) -> None:
        own = [r for r in rows if r.account_no == self.account.number]
        for r in own:
            r.reference = find_reference(r.memo, DEPOSIT_PREFIX if r.amount_fen > 0 else REFUND_PREFIX)
        self.seen = _already_imported(self.session, self.account.number, [r.bank_ref for r in own])
        self.known = _known_references(
            self.session, {r.reference for r in own if r.amount_fen > 0 and r.reference}
        )
        self.held = _held_elsewhere(self.session, self.known)
        self.refunds = _open_refund_lines(
            self.session, {r.reference for r in own if r.amount_fen < 0 and r.reference}
        )

    def outcome(self, row: statements.Row) -> tuple[str, str]:
        if row.account_no != self.account.number:
            return "foreign", "other_account"
        self.ours += 1
        if row.currency != "CNY":
            return "foreign", "other_currency"
        if not row.booked:
            return "foreign", "not_booked"
        if row.bank_ref in self.seen:
            return "duplicate", "already_imported"
        if row.bank_ref in self.in_file:
            return "duplicate", "repeated"
        self.in_file.add(row.bank_ref)
        return "", ""

    def credit(self, row: statements.Row, tx: dict) -> tuple[str, str]:
        ref = row.reference
        if ref is None:
            return "unmatched", "no_reference"
        known = self.known.get(ref)
        if known is None:
            return "unmatched", "unknown_reference"
        tx["deposit_reference_id"] = known.id
        if row.sub_account and row.sub_account != known.sub_account:
            return "unmatched", "wrong_sub_account"
        if ref in self.used or known.deposit_status == "held":
            return "unmatched", "reference_used"  # paid twice: the second payment goes back
        if known.tender_status != "published":
            return "refused", "tender_closed"
        if row.booked_at >= known.bid_deadline:
            return "refused", "late"
        if (
            not known.basic_account_no
            or row.counterparty_account != known.basic_account_no
            or row.counterparty_name.strip() != known.org_name
        ):
            return "refused", "not_basic_account"  # R-D1: from the tenderer's own basic account
        if (known.tender_id, known.lot_number, known.organization_id) in self.held:
            return "refused", "deposit_exists"
        if row.amount_fen < known.amount_fen:
            return "partial", "short"
        self.used.add(ref)
        deposit_id = uuid.uuid4()
        self.deposits.append(
            {
                "id": deposit_id,
                "tender_id": known.tender_id,
                "lot_number": known.lot_number,
                "organization_id": known.organization_id,
                "kind": "money",
                "status": "held",
                "amount_fen": row.amount_fen,
                "paid_at": row.booked_at,
                "payer_bank": row.counterparty_bank[:100],
                "payer_account": known.basic_account_no,
                "payer_name": known.org_name,
            }
        )
        self.reference_updates.append({"reference_id": known.id, "new_deposit_id": deposit_id})
        tx["deposit_id"] = deposit_id
        self.entries.append(
            ledger.Entry(
                "deposit_paid",
                [(ledger.ESCROW, row.amount_fen), (f"deposit:{deposit_id}", -row.amount_fen)],
                known.tender_id,
                deposit_id,
                f"{known.tender_code} lot {known.lot_number} {known.org_name} {row.bank_ref}",
            )
        )
        return "matched", ""

    def debit(self, row: statements.Row, tx: dict) -> tuple[str, str]:
        ref = row.reference
        line = self.refunds.pop(ref, None) if ref else None
        if line is None or ref is None:
            return "unmatched", "unknown_debit"
        if -row.amount_fen != line.amount_fen or (
            row.counterparty_account and row.counterparty_account != line.payee_account
        ):
            self.refunds[ref] = line
            return "unmatched", "refund_mismatch"
        self.settlements.append((line, tx))
        return "refund_paid", ""

    def _state(self, row: statements.Row, outcome: str, detail: str) -> None:
        self.counts[outcome] += 1
        self.digest.update(f"{row.line}\t{row.bank_ref}\t{outcome}\t{detail}\n".encode())
        if outcome in NOT_BOOKED:
            self.skipped.append([row.line, row.bank_ref, outcome, detail])

    def run(self, rows: list[statements.Row]) -> None:
        self.lines += len(rows)
        self._prefetch(rows)
        for row in rows:
            outcome, detail = self.outcome(row)
            if outcome:
                self._state(row, outcome, detail)
                continue
            tx = {
                "id": uuid.uuid4(),
                "statement_id": self.statement.id,
                "line": row.line,
                "account_no": row.account_no,
                "sub_account": row.sub_account[:40],
                "bank_ref": row.bank_ref,
                "booked_at": row.booked_at,
                "amount_fen": row.amount_fen,
                "currency": "CNY",
                "counterparty_account": row.counterparty_account[:40],
                "counterparty_name": row.counterparty_name,
                "counterparty_bank": row.counterparty_bank,
                "memo": row.memo,
                "deposit_reference_id": None,
                "deposit_id": None,
                "settled_at": None,
            }
            outcome, detail = (self.credit if row.amount_fen > 0 else self.debit)(row, tx)
            tx["outcome"], tx["detail"] = outcome, detail
            if outcome in SUSPENSE_OUTCOMES:
                self.suspense_fen += row.amount_fen
                self.suspense_lines += 1
            self.transactions.append(tx)
            self._state(row, outcome, detail)

    def write(self) -> None:
        """Write what the last chunk decided: deposits first (the lines point at them), then the lines."""
        session = self.session
        if self.deposits:
            session.execute(insert(cast(Table, Deposit.__table__)), self.deposits)
        if self.transactions:
            session.execute(insert(cast(Table, BankTransaction.__table__)), self.transactions)
        if self.reference_updates:
            table = cast(Table, DepositReference.__table__)
            session.execute(
                update(table)
                .where(table.c.id == bindparam("reference_id"))
                .values(deposit_id=bindparam("new_deposit_id")),
                self.reference_updates,
            )
            # A bulk update leaves objects already loaded as they were: let them read the new deposit.
            updated = {change["reference_id"] for change in self.reference_updates}
            for obj in list(session.identity_map.values()):
                if isinstance(obj, DepositReference) and obj.id in updated:
                    session.expire(obj, ["deposit_id"])
        ledger.book_many(session, self.entries)
        self._clear()

    def finish(self, actor: User | None, ip: str | None) -> None:
        """Money in suspense is booked as one movement of the import (each line is in bank_transactions),
        then the refunds the statement shows paid are settled."""
        if self.suspense_fen:
            ledger.book_many(
                self.session,
                [
                    ledger.Entry(
                        "bank_suspense",
                        [(ledger.ESCROW, self.suspense_fen), (ledger.SUSPENSE, -self.suspense_fen)],
                        memo=f"{self.statement.filename}: {self.suspense_lines} lines matching no deposit",
                    )
                ],
            )
        for line, tx in self.settlements:
            _settle(self.session, actor, line, tx, ip)


def _refuse_malformed(parsed: statements.Statement, read: int) -> None:
    problems = parsed.problems
    raise Invalid(
        _l(
            "%(n)s line(s) of the statement cannot be read: nothing was imported. Correct the file (or "
            "export it again from the bank) and import it again.",
            n=len(problems),
        ),
        code="statement_malformed",
        details={
            "malformed": [p.as_list() for p in problems[:1000]],
            "malformed_count": len(problems),
            "not_imported": read,
        },
    )


def _batched(rows, size: int):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def import_statement(
    session: Session, actor: User | None, *, filename: str, data: bytes, ip: str | None = None
) -> ImportResult:
    """Import one statement file whole or not at all; every line's outcome is stated and kept."""
    account = _require_account()
    if not data:
        raise Invalid(_l("The file is empty."), code="empty_file", details={"field": "file"})
    statement = BankStatement(
        id=uuid.uuid4(),
        filename=(filename or "statement")[-200:],
        format="csv",
        sha256=hashlib.sha256(data).hexdigest(),
        account_no=account.number,
        lines=0,
        imported_by_id=getattr(actor, "id", None),
        imported_at=clock.now(),
    )
    # A refusal raises: the caller's unit of work rolls back everything written so far (core.uow), so
    # nothing of a refused file stays. (A savepoint would say the same at the cost of SQLite keeping a
    # copy of every page the import touches in memory.)
    try:
        parsed = statements.parse(data)
        statement.format = parsed.format
        session.add(statement)
        session.flush()
        matcher = _Matcher(session, account, statement)
        for chunk in _batched(parsed.rows, CHUNK_ROWS):
            matcher.run(chunk)
            if not parsed.problems:
                matcher.write()
        if parsed.problems:
            _refuse_malformed(parsed, matcher.lines)
        if not matcher.ours and parsed.account_no != account.number:
            raise Invalid(
                _l(
                    "This statement is of account %(other)s, not of the deposit account %(ours)s.",
                    other=parsed.account_no,
                    ours=account.number,
                ),
                code="statement_other_account",
                details={"field": "file", "account": parsed.account_no},
            )
        matcher.finish(actor, ip)
    except statements.UnreadableStatement as exc:
        raise Invalid(
            _l("This is not a statement we can read (CSV as the bank exports it, or camt.053 XML)."),
            code="statement_unreadable",
            details={"field": "file", "reason": exc.code, "detail": exc.detail},
        ) from exc
    statement.lines = matcher.lines
    statement.counts = dict(sorted(matcher.counts.items()))
    statement.skipped = matcher.skipped
    session.flush()
    audit.record(
        session,
        actor,
        "bidding.statement_imported",
        statement,
        {
            "filename": statement.filename,
            "sha256": statement.sha256,
            "format": statement.format,
            "lines": statement.lines,
            "counts": statement.counts,
            # The outcome of every line, committed to by a digest over one text line each (line number,
            # bank reference, outcome, detail; tab-separated): the log proves what was decided for each.
            "outcomes_sha256": matcher.digest.hexdigest(),
        },
        ip,
    )
    return ImportResult(statement, statement.counts)


def _settle(session: Session, actor: User | None, line: RefundLine, tx: dict, ip: str | None) -> None:
    """A refund batch line is paid: the deposit's refund is settled, or the returned money leaves suspense."""
    line.paid_transaction_id, line.paid_at = tx["id"], tx["booked_at"]
    if line.deposit_id is not None:
        deposit = get_row(session, Deposit, line.deposit_id)
        tx["deposit_id"] = deposit.id
        session.execute(
            update(BankTransaction).where(BankTransaction.id == tx["id"]).values(deposit_id=deposit.id)
        )
        if deposit.status == "refund_due":
            figures = ledger.RefundFigures(line.interest_fen, line.late_charge_fen)
            ledger.settle_refund(
                session, deposit, figures, tx["booked_at"], actor, ip, bank_ref=tx["bank_ref"]
            )
        return
    ledger.book(
        session,
        "suspense_returned",
        [(ledger.SUSPENSE, line.amount_fen), (ledger.ESCROW, -line.amount_fen)],
        memo=f"{tx['bank_ref']} {line.reference} {line.payee_name}",
    )
    session.execute(
        update(BankTransaction)
        .where(BankTransaction.id == line.returned_transaction_id)
        .values(settled_at=tx["booked_at"])
    )


def statement_lines(session: Session, statement: BankStatement) -> list[dict]:
    """Every line of an imported statement with its outcome, in file order (booked and skipped)."""
    booked = session.scalars(
        select(BankTransaction)
        .where(BankTransaction.statement_id == statement.id)
        .order_by(BankTransaction.line)
    ).all()
    rows = [
        {
            "line": tx.line,
            "bank_ref": tx.bank_ref,
            "outcome": tx.outcome,
            "detail": tx.detail,
            "amount_fen": tx.amount_fen,
            "booked_at": tx.booked_at,
            "counterparty": tx.counterparty_name,
            "deposit_id": tx.deposit_id,
        }
        for tx in booked
    ]
    rows += [
        {"line": line, "bank_ref": ref, "outcome": outcome, "detail": detail, "amount_fen": None}
        for line, ref, outcome, detail in statement.skipped
    ]
    return sorted(rows, key=lambda r: r["line"])


def unmatched(session: Session) -> list[BankTransaction]:
    """Money in suspense not returned yet, oldest first: what finance staff look into."""
    return list(
        session.scalars(
            select(BankTransaction)
            .where(BankTransaction.outcome.in_(SUSPENSE_OUTCOMES), BankTransaction.settled_at.is_(None))
            .order_by(BankTransaction.booked_at)
        )
    )


# -- refund batches -------------------------------------------------------------------------------------


def _next_batch_number(session: Session) -> str:
    year = clock.local(clock.now()).year
    count = session.scalar(
        select(func.count()).select_from(RefundBatch).where(RefundBatch.number.like(f"TK-{year}-%"))
    )
    return f"TK-{year}-{(count or 0) + 1:04d}"


def _in_open_lines(session: Session, column) -> set:
    return set(session.scalars(select(column).where(column.is_not(None), *_awaiting_payment())))


def pending_refunds(session: Session) -> tuple[list[Deposit], list[BankTransaction]]:
    """Money refunds due (R-D2..R-D4) and suspense money to return, not yet in a batch awaiting payment."""
    in_batch = _in_open_lines(session, RefundLine.deposit_id)
    deposits = [
        d
        for d in session.scalars(
            select(Deposit)
            .where(Deposit.status == "refund_due", Deposit.kind == "money")
            .order_by(Deposit.refund_due_at)
        )
        if d.id not in in_batch
    ]
    returning = _in_open_lines(session, RefundLine.returned_transaction_id)
    returns = [tx for tx in unmatched(session) if tx.amount_fen > 0 and tx.id not in returning]
    return deposits, returns


def create_refund_batch(session: Session, actor: User, ip: str | None = None) -> RefundBatch:
    """One payment file for everything due: each refund with its interest and late charge as of now."""
    _require_account()
    deposits, returns = pending_refunds(session)
    if not deposits and not returns:
        raise Conflict(_l("Nothing to refund or return."), code="nothing_to_refund")
    now = clock.now()
    batch = RefundBatch(
        number=_next_batch_number(session), created_by_id=actor.id, created_at=now, total_fen=0
    )
    payments = [_refund_payment(session, deposit, now) for deposit in deposits]
    payments += [
        {
            "returned_transaction_id": tx.id,
            "payee_account": tx.counterparty_account,
            "payee_name": tx.counterparty_name,
            "payee_bank": tx.counterparty_bank,
            "amount_fen": tx.amount_fen,
        }
        for tx in returns
    ]
    batch.lines = [
        RefundLine(position=position, reference=new_reference(REFUND_PREFIX), **payment)
        for position, payment in enumerate(payments, start=1)
    ]
    batch.total_fen = sum(line.amount_fen for line in batch.lines)
    session.add(batch)
    session.flush()
    audit.record(
        session,
        actor,
        "bidding.refund_batch_created",
        batch,
        {
            "number": batch.number,
            "total_fen": batch.total_fen,
            "lines": [[line.reference, line.amount_fen] for line in batch.lines],
        },
        ip,
    )
    return batch


def _refund_payment(session: Session, deposit: Deposit, now: datetime) -> dict:
    """A deposit's refund: to the account it came from, with its interest (R-D3) and late charge (R-D4)."""
    figures = ledger.refund_figures(session, deposit, now)
    return {
        "deposit_id": deposit.id,
        "payee_account": deposit.payer_account or "",
        "payee_name": deposit.payer_name or "",
        "payee_bank": deposit.payer_bank or "",
        "amount_fen": deposit.amount_fen + figures.interest_fen + figures.late_charge_fen,
        "interest_fen": figures.interest_fen,
        "late_charge_fen": figures.late_charge_fen,
    }


def cancel_refund_line(
    session: Session, actor: User, line_id: uuid.UUID, ip: str | None = None
) -> RefundLine:
    """The bank did not pay a line (it says so on its return slip): the refund or return is due again and
    goes into the next batch; a debit showing this line's reference later is not taken for it."""
    line = session.get(RefundLine, line_id)
    if line is None:
        raise NotFound(_l("No such refund batch line."), code="refund_line_not_found")
    if line.paid_at is not None:
        raise Conflict(
            _l("A statement shows this payment made: it cannot be cancelled."), code="refund_line_paid"
        )
    if line.cancelled_at is None:
        line.cancelled_at = clock.now()
        session.flush()
        audit.record(
            session,
            actor,
            "bidding.refund_line_cancelled",
            line,
            {"reference": line.reference, "amount_fen": line.amount_fen},
            ip,
        )
    return line


BATCH_COLUMNS = ("序号", "收款人账号", "收款人户名", "收款银行", "金额", "用途", "附言")


def batch_file(batch: RefundBatch) -> bytes:
    """The payment file for the bank's batch transfer (批量代付), CSV in UTF-8 with a byte-order mark (as
    spreadsheet programs and the banks' upload pages expect): amounts in yuan, the line's reference in
    the memo so the statement can match the debit back (docs/bank-statements.md)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(BATCH_COLUMNS)
    for line in batch.lines:
        purpose = "投标保证金退还" if line.deposit_id else "退回未匹配款项"
        writer.writerow(
            [
                line.position,
                line.payee_account,
                line.payee_name,
                line.payee_bank,
                f"{line.amount_fen // 100}.{line.amount_fen % 100:02d}",
                purpose,
                line.reference,
            ]
        )
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def refund_batch(session: Session, batch_id: uuid.UUID) -> RefundBatch:
    batch = session.get(RefundBatch, batch_id)
    if batch is None:
        raise NotFound(_l("No such refund batch."), code="refund_batch_not_found")
    return batch
