"""The expert pool (评标专家库), its specialty taxonomy, and expert draws (专家抽取)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
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

EXPERT_STATUSES = ("active", "suspended", "retired")
RECORD_KINDS = ("training", "assessment")
DRAW_STATUSES = ("committed", "drawn", "disclosed")
CALL_STATUSES = ("pending", "accepted", "declined", "expired")


class Specialty(Base):
    """评标专业: a node of the admins' taxonomy; dotted codes nest ("01" > "01.01" > "01.01.01")."""

    __tablename__ = "specialties"
    __table_args__ = (CheckConstraint("code <> ''", name="code_not_empty"),)

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("specialties.code"), default=None)
    active: Mapped[bool] = mapped_column(default=True)


class Expert(UuidPK, Base):
    """评标专家: a person in the pool, with or without a platform account."""

    __tablename__ = "experts"
    __table_args__ = (
        CheckConstraint(f"status IN {EXPERT_STATUSES!r}", name="status"),
        CheckConstraint("years_of_practice >= 0", name="years_not_negative"),
        Index("ix_experts_status_region", "status", "region", "id"),
    )

    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), unique=True, default=None)
    name: Mapped[str] = mapped_column(String(100))
    # 身份证号: AES-GCM sealed with the data key; the keyed digest finds duplicates without decrypting.
    id_number_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    id_number_digest: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str] = mapped_column(String(32), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    title: Mapped[str] = mapped_column(String(100), default="")  # professional title, e.g. 高级工程师
    years_of_practice: Mapped[int] = mapped_column(Integer, default=0)
    region: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(12), default="active")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now, onupdate=clock.now)

    specialties: Mapped[list[ExpertSpecialty]] = relationship(cascade="all, delete-orphan")
    employments: Mapped[list[Employment]] = relationship(
        cascade="all, delete-orphan", order_by="Employment.start_date.desc()"
    )
    leaves: Mapped[list[Leave]] = relationship(cascade="all, delete-orphan", order_by="Leave.starts_at")
    records: Mapped[list[ExpertRecord]] = relationship(
        cascade="all, delete-orphan", order_by="ExpertRecord.held_on.desc()"
    )


class ExpertSpecialty(Base):
    __tablename__ = "expert_specialties"
    __table_args__ = (Index("ix_expert_specialties_code", "specialty_code", "expert_id"),)

    expert_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("experts.id", ondelete="CASCADE"), primary_key=True
    )
    specialty_code: Mapped[str] = mapped_column(ForeignKey("specialties.code"), primary_key=True)


class Employment(UuidPK, Base):
    """Where the expert works or worked: the 3-year avoidance rule (R-E3) reads these dates."""

    __tablename__ = "expert_employments"
    __table_args__ = (
        CheckConstraint("end_date IS NULL OR end_date >= start_date", name="dates_ordered"),
        CheckConstraint(
            "organization_id IS NOT NULL OR employer_credit_code IS NOT NULL", name="employer_identified"
        ),
        Index("ix_expert_employments_org", "organization_id"),
        # Covering the avoidance query (R-E3): code and dates in, expert out, no table lookups.
        Index("ix_expert_employments_code", "employer_credit_code", "end_date", "expert_id"),
    )

    expert_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("experts.id", ondelete="CASCADE"))
    employer_name: Mapped[str] = mapped_column(String(200))
    employer_credit_code: Mapped[str | None] = mapped_column(String(18), default=None)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("organizations.id"), default=None
    )
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date, default=None)  # None: works there now


class Leave(UuidPK, Base):
    """A period the expert cannot evaluate (illness, travel): not drawn for evaluations in it."""

    __tablename__ = "expert_leaves"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="period_ordered"),
        Index("ix_expert_leaves_period", "ends_at", "starts_at"),
    )

    expert_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("experts.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")


class ExpertRecord(UuidPK, Base):
    """A training attended or an assessment taken (培训、考核)."""

    __tablename__ = "expert_records"
    __table_args__ = (CheckConstraint(f"kind IN {RECORD_KINDS!r}", name="kind"),)

    expert_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("experts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))
    title: Mapped[str] = mapped_column(String(200))
    held_on: Mapped[date] = mapped_column(Date)
    result: Mapped[str] = mapped_column(String(100), default="")


class Draw(UuidPK, Base):
    """专家抽取: one verifiable draw of experts for a tender's committee (R-E2).

    The platform's secret and the drawn result are sealed with the data key (R-E4); the commitment,
    the pool root and the exclusions root were logged before anyone contributed.
    """

    __tablename__ = "draws"
    __table_args__ = (
        CheckConstraint(f"status IN {DRAW_STATUSES!r}", name="status"),
        CheckConstraint("status = 'committed' OR result_sealed IS NOT NULL", name="drawn_has_result"),
        CheckConstraint("tenderee_representatives IN (0, 1)", name="one_tenderee_representative"),
        Index("ix_draws_tender", "tender_id", "created_at"),
    )

    tender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenders.id"))
    requested_by_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    supervisor_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(12), default="committed")
    # {"specialties": {code: count}, "regions": [...], "backups": n}
    criteria: Mapped[dict] = mapped_column(JSON)
    tenderee_representatives: Mapped[int] = mapped_column(Integer, default=0)
    evaluation_at: Mapped[datetime] = mapped_column(UtcDateTime)
    evaluation_place: Mapped[str] = mapped_column(String(200), default="")
    eligible_counts: Mapped[dict] = mapped_column(JSON)
    secret_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    commitment: Mapped[str] = mapped_column(String(64))
    pool_root: Mapped[str] = mapped_column(String(64))
    exclusions_root: Mapped[str] = mapped_column(String(64))
    # Expert ids, not names. The seed is not kept in clear: with the pool it would give the order away.
    pool: Mapped[dict] = mapped_column(JSON)
    exclusions: Mapped[dict] = mapped_column(JSON)
    commitment_audit_index: Mapped[int] = mapped_column(BigInteger)
    agency_contribution: Mapped[str | None] = mapped_column(String(64), default=None)
    supervisor_contribution: Mapped[str | None] = mapped_column(String(64), default=None)
    result_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    drawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # Calls: every seat accepted (the committee is formed), or the drawn list ran dry {code: missing}.
    formed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    shortfall: Mapped[dict | None] = mapped_column(JSON, default=None)
    disclosed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)


class Call(UuidPK, Base):
    """A drawn expert asked to sit, in draw order, with a deadline to answer (R-E2, R-E4).

    Who was called is sealed like the drawn list; the tag (a keyed hash of the expert) lets the expert's
    own pages find their calls without decrypting anybody else's.
    """

    __tablename__ = "expert_calls"
    __table_args__ = (
        CheckConstraint(f"status IN {CALL_STATUSES!r}", name="status"),
        CheckConstraint("status = 'pending' OR answered_at IS NOT NULL", name="answered"),
        CheckConstraint("status <> 'declined' OR reason <> ''", name="decline_has_reason"),
        UniqueConstraint("draw_id", "specialty_code", "position"),
        Index("ix_expert_calls_tag", "expert_tag", "status"),
        Index("ix_expert_calls_deadline", "status", "deadline"),
    )

    draw_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("draws.id"))
    specialty_code: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(Integer)  # place in the specialty's drawn list, from 1
    expert_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    expert_tag: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12), default="pending")
    called_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    deadline: Mapped[datetime] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    reason: Mapped[str] = mapped_column(String(300), default="")


REVIEW_ASPECTS = ("punctuality", "independence", "competence", "discipline")


class ExpertReview(UuidPK, Base):
    """一标一评: the supervisor's review of one expert after one evaluation (R-R4), with the facts the
    evaluation recorded about them as they stood then."""

    __tablename__ = "expert_reviews"
    __table_args__ = (
        UniqueConstraint("expert_id", "tender_id"),
        *(CheckConstraint(f"{a} BETWEEN 1 AND 5", name=f"{a}_range") for a in REVIEW_ASPECTS),
    )

    expert_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("experts.id"), index=True)
    tender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenders.id"))
    reviewer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    punctuality: Mapped[int] = mapped_column(Integer)
    independence: Mapped[int] = mapped_column(Integer)
    competence: Mapped[int] = mapped_column(Integer)
    discipline: Mapped[int] = mapped_column(Integer)
    notes: Mapped[str] = mapped_column(Text, default="")
    facts: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
