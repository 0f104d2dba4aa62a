"""Tenders and their lots, the holiday calendar, the opening key and its custodians' shares."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import clock
from core.db import Base, UtcDateTime, UuidPK
from core.errors import Conflict

TRACKS = ("works", "procurement")


class CalendarDay(Base):
    """An exception to the week: a public holiday on a weekday, or a working weekend day (调休)."""

    __tablename__ = "calendar_days"
    __table_args__ = (CheckConstraint("kind IN ('holiday', 'workday')", name="kind"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(100), default="")


class CalendarYear(Base):
    """A year whose official holiday arrangement (国务院办公厅 节假日安排) is loaded: its days in
    ``calendar_days`` are complete. A year missing here counts as plain weeks, and publication warns."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(300))
    loaded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)


class TenderCounter(Base):
    """Next number of the human-readable tender code per year (ZB-2026-000123)."""

    __tablename__ = "tender_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


TimelineField = Literal[
    "documents_from", "documents_to", "clarification_deadline", "objection_deadline", "bid_deadline"
]


class Tender(UuidPK, Base):
    """招标项目: a procurement run by an agency for a tenderee, from draft to award."""

    __tablename__ = "tenders"
    __table_args__ = (
        CheckConstraint(f"track IN {TRACKS!r}", name="track"),
        CheckConstraint("status IN ('draft', 'published', 'failed', 'cancelled')", name="status"),
        CheckConstraint("estimated_price_fen > 0", name="estimate_positive"),
        CheckConstraint("deposit_fen >= 0", name="deposit_not_negative"),
        Index("ix_tenders_status_published", "status", "published_at"),
    )

    code: Mapped[str | None] = mapped_column(String(20), unique=True, default=None)
    title: Mapped[str] = mapped_column(String(200))
    track: Mapped[str] = mapped_column(String(16), default="works")
    category: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(Text, default="")
    region: Mapped[str] = mapped_column(String(64), default="")
    agency_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id"))
    tenderee_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id"))
    created_by_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    estimated_price_fen: Mapped[int] = mapped_column(BigInteger)
    deposit_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    state_controlled: Mapped[bool] = mapped_column(Boolean, default=False)  # R-A2
    scoring_scheme: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    # The timeline; the bid deadline is also the opening time (R-T5).
    documents_from: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    documents_to: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    clarification_deadline: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    objection_deadline: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    bid_deadline: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # R-T4: set while an objection to the documents waits for its answer; the tender is paused.
    paused_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # The opening hall's change counter: bumped (one UPDATE, atomic on every web host) by each change a
    # hall shows, so a watcher's poll is answered "not modified" from this one row (bidding.hall).
    hall_revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now, onupdate=clock.now)

    lots: Mapped[list[Lot]] = relationship(
        back_populates="tender", order_by="Lot.number", cascade="all, delete-orphan"
    )
    opening_key: Mapped[OpeningKeyRecord | None] = relationship(back_populates="tender", uselist=False)

    def time_of(self, field: TimelineField) -> datetime:
        """A time of the timeline, which every published tender has (publication checks it); a draft
        may not have it yet, and asking is refused in words (naming the field) rather than compared
        with None."""
        value: datetime | None = getattr(self, field)
        if value is None:
            raise Conflict(
                _l("The tender's timeline is not complete yet."),
                code="timeline_incomplete",
                details={"field": field},
            )
        return value

    @property
    def key(self) -> OpeningKeyRecord:
        """The opening key of a published tender (created at publication)."""
        if self.opening_key is None:
            raise Conflict(_l("The tender has no opening key: it is not published."), code="tender_not_open")
        return self.opening_key


class Lot(UuidPK, Base):
    """标段: a separately bid and awarded part of a tender."""

    __tablename__ = "lots"
    __table_args__ = (
        UniqueConstraint("tender_id", "number"),
        CheckConstraint("number >= 1", name="number_positive"),
        CheckConstraint("estimated_price_fen > 0", name="estimate_positive"),
        CheckConstraint("deposit_fen >= 0", name="deposit_not_negative"),
    )

    tender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenders.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    estimated_price_fen: Mapped[int] = mapped_column(BigInteger)
    deposit_fen: Mapped[int] = mapped_column(BigInteger, default=0)

    tender: Mapped[Tender] = relationship(back_populates="lots")


class OpeningKeyRecord(Base):
    """The tender's opening key: only its public recipient is kept; the secret exists as shares."""

    __tablename__ = "opening_keys"

    tender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenders.id"), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(100))
    threshold: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)

    tender: Mapped[Tender] = relationship(back_populates="opening_key")
    shares: Mapped[list[CustodianShare]] = relationship(order_by="CustodianShare.x")


class CustodianShare(UuidPK, Base):
    """One custodian's share of an opening key, sealed (age) to the custodian's own recipient."""

    __tablename__ = "custodian_shares"
    __table_args__ = (UniqueConstraint("tender_id", "x"), UniqueConstraint("tender_id", "custodian_id"))

    tender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("opening_keys.tender_id"))
    custodian_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    role: Mapped[str] = mapped_column(String(16))  # agency | supervisor | notary
    x: Mapped[int] = mapped_column(Integer)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    share_sha256: Mapped[str] = mapped_column(String(64))
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # The released share text, sealed with the data key: together with k-1 others it opens every bid.
    released: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)


class InterestRate(Base):
    """Annual rates in basis points from a date on: the bank deposit rate (R-D3 interest) and the
    lending rate (R-D4 late-refund charge). Admins keep them current."""

    __tablename__ = "interest_rates"
    __table_args__ = (
        CheckConstraint("kind IN ('deposit', 'lending')", name="kind"),
        CheckConstraint("annual_bps >= 0", name="not_negative"),
    )

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    effective_from: Mapped[date] = mapped_column(Date, primary_key=True)
    annual_bps: Mapped[int] = mapped_column(Integer)


class Deposit(UuidPK, Base):
    """投标保证金: bid security for one lot from one tenderer, in money or as an e-guarantee (电子保函)."""

    __tablename__ = "deposits"
    __table_args__ = (
        CheckConstraint("kind IN ('money', 'guarantee')", name="kind"),
        CheckConstraint("status IN ('held', 'refund_due', 'refunded', 'forfeited')", name="status"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("ix_deposits_tender_org", "tender_id", "organization_id"),
    )

    tender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenders.id"))
    lot_number: Mapped[int] = mapped_column(Integer)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default="held")
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    paid_at: Mapped[datetime] = mapped_column(UtcDateTime)
    payer_bank: Mapped[str | None] = mapped_column(String(100), default=None)
    payer_account: Mapped[str | None] = mapped_column(String(40), default=None)
    payer_name: Mapped[str | None] = mapped_column(String(200), default=None)
    # e-guarantee
    insurer: Mapped[str | None] = mapped_column(String(200), default=None)
    policy_number: Mapped[str | None] = mapped_column(String(100), default=None)
    # The insurer's verification reference (保函验真码): how anyone checks the guarantee with the insurer.
    verification_ref: Mapped[str | None] = mapped_column(String(100), default=None)
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    file_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    # refund
    refund_reason: Mapped[str | None] = mapped_column(String(16), default=None)
    refund_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    refunded_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    interest_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    late_charge_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)


class DepositReference(UuidPK, Base):
    """缴款识别码: what one tenderer writes on its transfer to one tender's deposit sub-account (保证金子账户)
    for one lot. A deposit is held only once the bank's statement shows the payment (R-D1)."""

    __tablename__ = "deposit_references"
    __table_args__ = (
        UniqueConstraint("tender_id", "lot_number", "organization_id"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
    )

    reference: Mapped[str] = mapped_column(String(16), unique=True)
    tender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenders.id"))
    lot_number: Mapped[int] = mapped_column(Integer)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id"))
    sub_account: Mapped[str] = mapped_column(String(40))
    amount_fen: Mapped[int] = mapped_column(BigInteger)  # what the lot requires
    issued_by_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    deposit_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("deposits.id"), default=None)


STATEMENT_OUTCOMES = ("matched", "partial", "refused", "unmatched", "refund_paid")


class BankStatement(UuidPK, Base):
    """对账单: one imported statement of the deposit account, CSV as the bank exports it or camt.053.
    Imported whole or not at all; every line's outcome is kept (``bank_transactions`` for the lines
    booked, ``skipped`` for duplicates and other accounts' lines)."""

    __tablename__ = "bank_statements"
    __table_args__ = (CheckConstraint("format IN ('csv', 'camt053')", name="format"),)

    filename: Mapped[str] = mapped_column(String(200))
    format: Mapped[str] = mapped_column(String(8))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    account_no: Mapped[str] = mapped_column(String(40))
    lines: Mapped[int] = mapped_column(Integer)
    counts: Mapped[dict] = mapped_column(JSON, default=dict)  # outcome -> number of lines
    skipped: Mapped[list] = mapped_column(JSON, default=list)  # [line, outcome, detail] not booked
    imported_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    imported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)


class BankTransaction(UuidPK, Base):
    """银行流水: one booked line of the deposit account (credit positive, debit negative), imported once
    (the bank's own reference is unique per account), with what it was matched to."""

    __tablename__ = "bank_transactions"
    __table_args__ = (
        UniqueConstraint("account_no", "bank_ref"),
        CheckConstraint(f"outcome IN {STATEMENT_OUTCOMES!r}", name="outcome"),
        CheckConstraint("amount_fen <> 0", name="not_zero"),
        Index("ix_bank_transactions_open", "outcome", "settled_at"),
    )

    statement_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("bank_statements.id"), index=True)
    line: Mapped[int] = mapped_column(Integer)
    account_no: Mapped[str] = mapped_column(String(40))
    sub_account: Mapped[str] = mapped_column(String(40), default="")
    bank_ref: Mapped[str] = mapped_column(String(64))
    booked_at: Mapped[datetime] = mapped_column(UtcDateTime)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")
    counterparty_account: Mapped[str] = mapped_column(String(40), default="")
    counterparty_name: Mapped[str] = mapped_column(String(200), default="")
    counterparty_bank: Mapped[str] = mapped_column(String(100), default="")
    memo: Mapped[str] = mapped_column(String(300), default="")
    outcome: Mapped[str] = mapped_column(String(12))
    detail: Mapped[str] = mapped_column(String(32), default="")  # why it was not matched
    # The payment reference found in the memo, when there was one (also for a payment refused or short).
    deposit_reference_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("deposit_references.id"), default=None, index=True
    )
    deposit_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("deposits.id"), default=None)
    # Money in suspense (not a held deposit) is settled when returned to the payer (a refund line).
    settled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class RefundBatch(UuidPK, Base):
    """退款批次: refunds (R-D2..R-D4) and returns of unmatched money sent to the bank as one payment file
    (批量代付); each line is marked paid when a statement shows its debit."""

    __tablename__ = "refund_batches"

    number: Mapped[str] = mapped_column(String(20), unique=True)
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    total_fen: Mapped[int] = mapped_column(BigInteger)

    lines: Mapped[list[RefundLine]] = relationship(
        back_populates="batch", order_by="RefundLine.position", cascade="all, delete-orphan"
    )


class RefundLine(UuidPK, Base):
    """One payment of a refund batch: a deposit's refund with its interest and late charge, or the return
    of a payment that matched no deposit. Its reference goes into the transfer's memo (附言)."""

    __tablename__ = "refund_lines"
    __table_args__ = (
        CheckConstraint("(deposit_id IS NULL) <> (returned_transaction_id IS NULL)", name="one_source"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint("paid_at IS NULL OR cancelled_at IS NULL", name="paid_or_cancelled"),
        UniqueConstraint("batch_id", "position"),
    )

    batch_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("refund_batches.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(16), unique=True)
    deposit_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("deposits.id"), default=None)
    returned_transaction_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("bank_transactions.id"), default=None
    )
    payee_account: Mapped[str] = mapped_column(String(40))
    payee_name: Mapped[str] = mapped_column(String(200))
    payee_bank: Mapped[str] = mapped_column(String(100), default="")
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    interest_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    late_charge_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_transaction_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("bank_transactions.id"), default=None
    )
    paid_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # The bank did not pay it (an account closed, say): the refund goes into the next batch instead.
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    batch: Mapped[RefundBatch] = relationship(back_populates="lines")


class LedgerTransaction(UuidPK, Base):
    """One balanced movement of money: its lines sum to zero."""

    __tablename__ = "ledger_transactions"

    kind: Mapped[str] = mapped_column(String(24))
    tender_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("tenders.id"), default=None)
    deposit_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("deposits.id"), default=None)
    memo: Mapped[str] = mapped_column(String(300), default="")
    booked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)

    lines: Mapped[list[LedgerLine]] = relationship(back_populates="transaction", cascade="all, delete-orphan")


class LedgerLine(Base):
    """A debit (positive) or credit (negative) of ``amount_fen`` on a named account."""

    __tablename__ = "ledger_lines"
    __table_args__ = (
        CheckConstraint("amount_fen <> 0", name="not_zero"),
        Index("ix_ledger_lines_account", "account"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    transaction_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("ledger_transactions.id"))
    account: Mapped[str] = mapped_column(String(80))
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY")

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="lines")


class Bid(UuidPK, Base):
    """投标文件: one tenderer's sealed submission for one lot, in parts."""

    __tablename__ = "bids"
    __table_args__ = (
        CheckConstraint("status IN ('uploading', 'submitted', 'replaced', 'withdrawn')", name="status"),
        CheckConstraint("outcome IS NULL OR outcome IN ('opened', 'revoked', 'withdrawn')", name="outcome"),
        Index("ix_bids_tender_org", "tender_id", "organization_id", "lot_number"),
    )

    tender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenders.id"))
    lot_number: Mapped[int] = mapped_column(Integer)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id"))
    created_by_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(12), default="uploading")
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    receipt: Mapped[str | None] = mapped_column(Text, default=None)
    audit_index: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # Set when the opening closes (R-B6): opened; revoked (撤销, the tenderer's fault); withdrawn (撤回,
    # no fault of the tenderer). A bid withdrawn before the deadline keeps status 'withdrawn' instead.
    outcome: Mapped[str | None] = mapped_column(String(12), default=None)
    outcome_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)

    parts: Mapped[list[BidPart]] = relationship(
        back_populates="bid", order_by="BidPart.part", cascade="all, delete-orphan"
    )


class BidPart(UuidPK, Base):
    """One sealed part (age envelope in the file store) with its outer signature file (OUT.sig)."""

    __tablename__ = "bid_parts"
    __table_args__ = (
        UniqueConstraint("bid_id", "part"),
        CheckConstraint("part IN ('qualification', 'technical', 'commercial')", name="part"),
    )

    bid_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("bids.id", ondelete="CASCADE"))
    part: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))  # of the ciphertext: the file store key
    size: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[str] = mapped_column(Text)  # OUT.sig as uploaded
    signer_serial: Mapped[str] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)

    bid: Mapped[Bid] = relationship(back_populates="parts")


class BidUpload(UuidPK, Base):
    """A sealed part arriving in chunks (resumable upload): the outer signature first, then the bytes,
    appended to a private partial file until they reach the signed size; then it becomes a BidPart."""

    __tablename__ = "bid_uploads"
    __table_args__ = (
        UniqueConstraint("bid_id", "part"),
        CheckConstraint("part IN ('qualification', 'technical', 'commercial')", name="part"),
    )

    bid_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("bids.id", ondelete="CASCADE"))
    part: Mapped[str] = mapped_column(String(16))
    sha256: Mapped[str] = mapped_column(String(64))  # signed in OUT.sig: the whole envelope's
    size: Mapped[int] = mapped_column(BigInteger)  # signed in OUT.sig
    received: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes kept so far (the offset)
    signature: Mapped[str] = mapped_column(Text)  # OUT.sig as sent
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)


class Opening(Base):
    """开标: the online opening of a tender, from the deadline to the signed opening record."""

    __tablename__ = "openings"
    __table_args__ = (CheckConstraint("status IN ('failed', 'decrypting', 'closed')", name="status"),)

    tender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenders.id"), primary_key=True)
    # None: the platform started it by itself at the deadline (R-T5, the beat job bidding.start_openings)
    started_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(12))
    decrypt_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    record: Mapped[str | None] = mapped_column(Text, default=None)  # signed opening record (JSON)
    # The record as a PDF (开标记录表) signed by the platform (PAdES), in the file store, made at closing.
    record_pdf_sha256: Mapped[str | None] = mapped_column(String(64), default=None)


HALL_VERDICTS = ("confirmed", "objected")


class HallAttendance(Base):
    """A bidder in the opening hall (开标大厅): its sign-in (签到) before the deadline, and its signature
    under the closed record (签字确认) or its objection to it, with the reason (R-B7)."""

    __tablename__ = "hall_attendance"
    __table_args__ = (
        CheckConstraint(f"verdict IN {HALL_VERDICTS!r}", name="verdict"),
        CheckConstraint("(verdict IS NULL) = (verdict_at IS NULL)", name="verdict_complete"),
    )

    tender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenders.id"), primary_key=True)
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id"), primary_key=True)
    signed_in_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    signed_in_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    verdict: Mapped[str | None] = mapped_column(String(12), default=None)
    verdict_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    verdict_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    remark: Mapped[str] = mapped_column(Text, default="")


class PartOpening(Base):
    """What happened when a part was decrypted: ok, or the failure's code; the price for commercial parts."""

    __tablename__ = "part_openings"

    part_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("bid_parts.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(8))  # ok | failed
    failure_code: Mapped[str | None] = mapped_column(String(40), default=None)
    price_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    price_sheet: Mapped[dict | None] = mapped_column(JSON, default=None)
    manifest_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    # The signed manifest (file hashes, machine fingerprint hash): what the collusion signals compare.
    manifest: Mapped[dict | None] = mapped_column(JSON, default=None)
    decrypted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    # How it was opened: with the file key its owner sent (online decryption) or with the opening key
    # rebuilt from the custodians' shares; when the opening key failed, what shows whose fault it was
    # (R-B1, R-B6): the stored envelope re-hashed against the hash the tenderer signed, its recipients.
    opened_with: Mapped[str | None] = mapped_column(String(12), default=None)
    evidence: Mapped[dict | None] = mapped_column(JSON, default=None)


class TenderDocument(UuidPK, Base):
    """招标文件及澄清、修改: the tender documents and every later clarification or amendment, numbered in
    the order issued. Nothing is ever replaced: a change is a new row (R-R2)."""

    __tablename__ = "tender_documents"
    __table_args__ = (
        UniqueConstraint("tender_id", "version"),
        CheckConstraint("kind IN ('documents', 'amendment', 'clarification')", name="kind"),
        CheckConstraint("(sha256 IS NULL) = (filename IS NULL)", name="file_complete"),
    )

    tender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenders.id"))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text, default="")
    filename: Mapped[str | None] = mapped_column(String(200), default=None)
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    affects_bids: Mapped[bool] = mapped_column(Boolean, default=True)  # R-T3
    uploaded_by_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    # The agency's own CMS signature over the file, when its staff member has a signing certificate.
    signature: Mapped[str | None] = mapped_column(Text, default=None)
    signer_serial: Mapped[str | None] = mapped_column(String(40), default=None)
    issued_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # The platform's signed statement of what was issued, when and by whom (checkable offline).
    statement: Mapped[str | None] = mapped_column(Text, default=None)
    deadline_before: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    deadline_after: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)


class DocumentDownload(Base):
    """One download of a tender document; only the agency and the tenderee see these (R-T2)."""

    __tablename__ = "document_downloads"
    __table_args__ = (Index("ix_document_downloads_document", "document_id", "organization_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    document_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tender_documents.id"))
    tender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenders.id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("organizations.id"))
    downloaded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)


class Question(UuidPK, Base):
    """澄清问题: a tenderer's question on the documents; answered in a clarification that never names
    the asker."""

    __tablename__ = "questions"

    tender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenders.id"), index=True)
    asked_by_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("organizations.id"))
    text: Mapped[str] = mapped_column(Text)
    asked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    answer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("tender_documents.id"), default=None)


OBJECTION_STAGES = ("documents", "opening", "publicity")


class Objection(UuidPK, Base):
    """异议: an objection to the documents (R-T4, pauses the tender), at the opening (R-B7, answered
    there and put in the record) or during the publicity of candidates (R-A1)."""

    __tablename__ = "objections"
    __table_args__ = (
        CheckConstraint(f"stage IN {OBJECTION_STAGES!r}", name="stage"),
        CheckConstraint("(answer IS NULL) = (answered_at IS NULL)", name="answer_complete"),
    )

    tender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenders.id"), index=True)
    stage: Mapped[str] = mapped_column(String(12))
    raised_by_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("organizations.id"))
    text: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    answer_due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    answer: Mapped[str | None] = mapped_column(Text, default=None)
    answered_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class TenderAssignment(Base):
    """A person assigned to a tender: agency staff who run it, supervisors who oversee it.

    Rights on a tender are per person, not per organisation: a colleague at the same agency who is not
    assigned has none (ARCHITECTURE "Confidentiality by phase"; bidding.permissions decides).
    """

    __tablename__ = "tender_assignments"
    __table_args__ = (
        CheckConstraint("kind IN ('agency', 'supervisor')", name="kind"),
        Index("ix_tender_assignments_user", "user_id", "tender_id"),
    )

    tender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenders.id"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    assigned_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
