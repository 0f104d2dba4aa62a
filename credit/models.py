"""Conduct records: one row per finding against a tenderer, agency or expert, never deleted."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from core import clock
from core.db import Base, UtcDateTime, UuidPK

SUBJECT_KINDS = ("tenderer", "agency", "expert")
CATEGORIES = ("collusion", "bribery", "fraud", "expert_misconduct", "agency_misconduct", "other")
STATUSES = ("draft", "published", "revoked")


class ConductRecord(UuidPK, Base):
    """不良行为记录: a finding, its penalty and an optional debarment (禁止投标), public once published.

    The subject is a kind and an id without a foreign key: experts live in a package that builds on this
    one. The subject's name and public identifier are copied as recorded, so a published record keeps
    showing what was published even if the organisation or expert is renamed later (R-R3).
    """

    __tablename__ = "conduct_records"
    __table_args__ = (
        CheckConstraint(f"subject_kind IN {SUBJECT_KINDS!r}", name="subject_kind"),
        CheckConstraint(f"category IN {CATEGORIES!r}", name="category"),
        CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        # A debarment has both ends or neither, and ends on or after its first day.
        CheckConstraint(
            "(debarred_from IS NULL AND debarred_to IS NULL) OR "
            "(debarred_from IS NOT NULL AND debarred_to IS NOT NULL AND debarred_to >= debarred_from)",
            name="debarment_period",
        ),
        CheckConstraint(
            "status = 'draft' OR published_at IS NOT NULL OR revoked_at IS NOT NULL", name="dated"
        ),
        CheckConstraint(
            "status <> 'revoked' OR (revoked_at IS NOT NULL AND revocation_reason IS NOT NULL)",
            name="revocation_reasoned",
        ),
        Index("ix_conduct_records_subject", "subject_kind", "subject_id"),
    )

    subject_kind: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    subject_name: Mapped[str] = mapped_column(String(200))
    subject_identifier: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(24))
    facts: Mapped[str] = mapped_column(Text)
    penalty: Mapped[str] = mapped_column(Text)
    # The tender concerned, as its code: credit must not depend on bidding.
    tender_code: Mapped[str | None] = mapped_column(String(64), default=None)
    evidence_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    evidence_name: Mapped[str | None] = mapped_column(String(200), default=None)
    evidence_size: Mapped[int | None] = mapped_column(Integer, default=None)
    # Beijing calendar days, both inclusive ("自…起至…止").
    debarred_from: Mapped[date | None] = mapped_column(Date, default=None)
    debarred_to: Mapped[date | None] = mapped_column(Date, default=None)
    status: Mapped[str] = mapped_column(String(12), default="draft")
    recorded_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    published_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    revoked_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    revocation_reason: Mapped[str | None] = mapped_column(Text, default=None)

    recorded_by: Mapped[User] = relationship(foreign_keys=[recorded_by_id])
    published_by: Mapped[User | None] = relationship(foreign_keys=[published_by_id])
    revoked_by: Mapped[User | None] = relationship(foreign_keys=[revoked_by_id])

    @property
    def public(self) -> bool:
        """Once published, a record stays public, revoked or not (R-R3)."""
        return self.published_at is not None
