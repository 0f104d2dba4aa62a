"""Evaluation records: the scoring scheme stored with its tender (replaced while the tender is a draft),
the room and its members, blind codes, score sheets, and the report with its signatures."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, UtcDateTime, UuidPK


class RoomStatus(StrEnum):
    SEATED = "seated"
    IN_SESSION = "in_session"
    CLOSED = "closed"


class ReportStatus(StrEnum):
    SIGNING = "signing"
    SIGNED = "signed"


class Decision(StrEnum):
    """A member's word on the report (R-V6)."""

    AGREE = "agree"
    DISSENT = "dissent"
    REFUSED = "refused"


class MemberKind(StrEnum):
    EXPERT = "expert"
    TENDEREE_REP = "tenderee_rep"


class ScoringScheme(Base):
    """评分办法: ``definition`` is the canonical JSON from evaluation.scheme (criteria, price rule); the
    columns beside it repeat what the database itself should hold true of every scheme."""

    __tablename__ = "scoring_schemes"
    __table_args__ = (
        CheckConstraint("method IN ('comprehensive', 'lowest_price')", name="method"),
        CheckConstraint("subject IN ('goods', 'services', 'works')", name="subject"),
        CheckConstraint(
            "(method = 'lowest_price' AND price_formula = 'none' AND price_points = 0)"
            " OR (method = 'comprehensive' AND price_formula IN ('lowest_valid', 'average_benchmark')"
            " AND price_points > 0 AND price_points <= 10000)",
            name="price_rule",
        ),
        # R-V2: procurement prices by the lowest valid price, with at least 30 (goods) / 10 (services) points.
        CheckConstraint(
            "NOT (subject = 'goods' AND method = 'comprehensive' AND price_points < 3000)"
            " AND NOT (subject = 'services' AND method = 'comprehensive' AND price_points < 1000)",
            name="price_minimum",
        ),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    tender_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("tenders.id", ondelete="CASCADE"), primary_key=True
    )
    method: Mapped[str] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(String(16))
    price_formula: Mapped[str] = mapped_column(String(20))
    price_points: Mapped[int] = mapped_column(Integer)  # hundredths of a point
    definition: Mapped[dict] = mapped_column(JSON)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)


class EvaluationRoom(Base):
    """评标室: the committee's sitting for one tender, from seating to the signed report."""

    __tablename__ = "evaluation_rooms"
    __table_args__ = (CheckConstraint("status IN ('seated', 'in_session', 'closed')", name="status"),)

    tender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenders.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(12), default="seated")
    seated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    chair_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)


class RoomMember(UuidPK, Base):
    """A committee member: a drawn expert or the tenderee's one representative (R-E1)."""

    __tablename__ = "room_members"
    __table_args__ = (
        UniqueConstraint("tender_id", "user_id"),
        CheckConstraint("kind IN ('expert', 'tenderee_rep')", name="kind"),
        CheckConstraint("(replaced_at IS NULL) = (replacement_reason IS NULL)", name="replacement_complete"),
    )

    tender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("evaluation_rooms.tender_id"), index=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(16), default="expert")
    checked_in_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    check_in_ip: Mapped[str | None] = mapped_column(String(64), default=None)
    # R-E5: a member who declares a conflict (or is otherwise replaced) leaves; their scores are void.
    replaced_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    replacement_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    # When the member took the seat: with the committee, or later as a replacement (R-E5).
    seated_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class ChairVote(Base):
    """One member's vote for the chair (组长); a majority of the sitting members elects."""

    __tablename__ = "chair_votes"

    tender_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("evaluation_rooms.tender_id"), primary_key=True
    )
    voter_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"), primary_key=True)
    candidate_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))


class BlindCode(Base):
    """暗标编号: the random code under which a bid's technical part reaches the experts; the findings
    of the identity-leak scan go with it (never the bidder)."""

    __tablename__ = "blind_codes"
    __table_args__ = (UniqueConstraint("tender_id", "code"),)

    tender_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("evaluation_rooms.tender_id"), primary_key=True
    )
    bid_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("bids.id"), primary_key=True)
    code: Mapped[str] = mapped_column(String(8))
    findings: Mapped[list] = mapped_column(JSON, default=list)


class ScoreSheet(Base):
    """One member's score sheet (评分表): pass/fail with reasons on the qualification criteria and points
    (hundredths) on the scored ones, per bid; locked once submitted (R-V1). Technical items of blind
    review arrive under their codes and are kept by bid here; no response to an expert maps them back."""

    __tablename__ = "score_sheets"

    tender_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("evaluation_rooms.tender_id"), primary_key=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("room_members.id"), primary_key=True)
    passes: Mapped[dict] = mapped_column(JSON, default=dict)  # bid id -> criterion -> bool
    reasons: Mapped[dict] = mapped_column(JSON, default=dict)  # bid id -> criterion -> why it fails
    points: Mapped[dict] = mapped_column(JSON, default=dict)  # bid id -> criterion -> hundredths
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now, onupdate=clock.now)


class EvaluationReport(Base):
    """评标报告: the results as the chair put them to the committee, the PDF made from them, and its state:
    signing (members sign), signed (every sitting member has signed or refused: R-V6)."""

    __tablename__ = "evaluation_reports"
    __table_args__ = (CheckConstraint("status IN ('signing', 'signed')", name="status"),)

    tender_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("evaluation_rooms.tender_id"), primary_key=True
    )
    status: Mapped[str] = mapped_column(String(8), default="signing")
    content: Mapped[dict] = mapped_column(JSON)  # the results, canonical JSON: what members sign
    content_sha256: Mapped[str] = mapped_column(String(64))
    pdf_sha256: Mapped[str] = mapped_column(String(64))  # the signed PDF once closed (R-R2)
    draft_pdf_sha256: Mapped[str | None] = mapped_column(String(64), default=None)  # what members read
    drafted_by_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    drafted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    signed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class ReportSignature(Base):
    """One member's signature on the report: agreement, or dissent with its reasons (R-V6). A refusal
    without written reasons is recorded as such and counted as agreement."""

    __tablename__ = "report_signatures"
    __table_args__ = (
        CheckConstraint("decision IN ('agree', 'dissent', 'refused')", name="decision"),
        CheckConstraint("decision <> 'dissent' OR length(reasons) > 0", name="dissent_has_reasons"),
    )

    tender_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("evaluation_reports.tender_id"), primary_key=True
    )
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("room_members.id"), primary_key=True)
    decision: Mapped[str] = mapped_column(String(8))
    reasons: Mapped[str] = mapped_column(Text, default="")
    counted_as: Mapped[str] = mapped_column(String(8))  # agree | dissent
    signed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    # A CMS signature over the content's canonical JSON, for members holding a platform certificate.
    cms_signature: Mapped[str | None] = mapped_column(Text, default=None)
    signer_serial: Mapped[str | None] = mapped_column(String(40), default=None)


class Publicity(Base):
    """中标候选人公示: the candidates published within 3 days of the report, for at least 3 days (R-A1)."""

    __tablename__ = "publicities"

    tender_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("evaluation_reports.tender_id"), primary_key=True
    )
    candidates: Mapped[list] = mapped_column(JSON)  # [{bid, tenderer, rank, price_fen, total}]
    published_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    late: Mapped[bool] = mapped_column(Boolean, default=False)  # published more than 3 days after the report
    published_by_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))


class Award(Base):
    """定标 and 中标通知: the tenderee's choice among the candidates with its reasons (R-A2), the notices,
    and the contract due within 30 days (R-A3)."""

    __tablename__ = "awards"
    __table_args__ = (CheckConstraint("length(reasons) > 0", name="reasons_given"),)

    tender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("publicities.tender_id"), primary_key=True)
    winner_bid_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("bids.id"))
    reasons: Mapped[str] = mapped_column(Text)
    decided_by_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    contract_due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    contract_signed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    contract_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    contract_amount_fen: Mapped[int | None] = mapped_column(BigInteger, default=None)
    # The signed PDFs (R-R2): 中标通知书 to the winner, 中标结果公告 to the others and the public.
    award_notice_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    result_notice_sha256: Mapped[str | None] = mapped_column(String(64), default=None)


class ScoreReview(Base):
    """复核: one recorded correction after aggregation, for an allowed reason the flags show (R-V4);
    applied in order on top of the submitted sheets, which themselves never change."""

    __tablename__ = "score_reviews"

    tender_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("evaluation_rooms.tender_id"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    reason: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("room_members.id"))
    bid_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("bids.id"))
    criterion: Mapped[str | None] = mapped_column(String(40), default=None)
    points: Mapped[int | None] = mapped_column(Integer, default=None)
    note: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    diff: Mapped[dict] = mapped_column(JSON)


class Complaint(UuidPK, Base):
    """投诉 (works: to the supervising authority, within 10 days of learning of the issue) or 质疑
    (procurement: to the purchaser or its agency, within 7 working days) about the result (R-A4)."""

    __tablename__ = "complaints"
    __table_args__ = (
        CheckConstraint("kind IN ('complaint', 'challenge')", name="kind"),
        CheckConstraint("(answer IS NULL) = (answered_at IS NULL)", name="answer_complete"),
    )

    tender_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("tenders.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    raised_by_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id"))
    text: Mapped[str] = mapped_column(Text)
    learned_at: Mapped[datetime] = mapped_column(UtcDateTime)
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    answer: Mapped[str | None] = mapped_column(Text, default=None)
    answered_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
