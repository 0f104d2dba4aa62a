"""Tenders and their lots, the holiday calendar, the opening key and its custodians' shares."""

from __future__ import annotations

import uuid
from datetime import date, datetime

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

TRACKS = ("works", "procurement")


class CalendarDay(Base):
    """An exception to the week: a public holiday on a weekday, or a working weekend day (调休)."""

    __tablename__ = "calendar_days"
    __table_args__ = (CheckConstraint("kind IN ('holiday', 'workday')", name="kind"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(100), default="")


class TenderCounter(Base):
    """Next number of the human-readable tender code per year (ZB-2026-000123)."""

    __tablename__ = "tender_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


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
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now, onupdate=clock.now)

    lots: Mapped[list[Lot]] = relationship(
        back_populates="tender", order_by="Lot.number", cascade="all, delete-orphan"
    )
    opening_key: Mapped[OpeningKeyRecord | None] = relationship(back_populates="tender", uselist=False)


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
