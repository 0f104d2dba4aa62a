"""What the evaluation and the award ask of people now, for their dashboards (core.todo): committee
members check in, score and sign (R-V1, R-V6); the agency publishes the candidates within 3 days
(R-A1); the tenderee decides after the publicity (R-A2); the contract within 30 days (R-A3); supervisors
review each expert after each evaluation (R-R4)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from flask import url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import User
from bidding.calendar import Calendar
from bidding.models import Tender
from bidding.permissions import assigned_tenders
from bidding.todos import about
from core.todo import Todo
from evaluation.award import publication_due
from evaluation.models import (
    Award,
    EvaluationReport,
    EvaluationRoom,
    Publicity,
    ReportSignature,
    RoomMember,
    ScoreSheet,
)
from experts.models import Draw, Expert, ExpertReview


def _room(tender: Tender, anchor: str = "") -> str:
    return url_for("evaluation_room.room_page", tender_id=tender.id) + anchor


def _award(tender: Tender, anchor: str = "") -> str:
    return url_for("evaluation_award.award_page", tender_id=tender.id) + anchor


def member(session: Session, user: User, now: datetime) -> Iterator[Todo]:
    """A committee seat's next step: check in, submit the score sheet, sign the report."""
    seats = session.execute(
        select(RoomMember, Tender)
        .join(Tender, Tender.id == RoomMember.tender_id)
        .where(RoomMember.user_id == user.id, RoomMember.replaced_at.is_(None))
    ).all()
    for seat, tender in seats:
        report = session.get(EvaluationReport, tender.id)
        if seat.checked_in_at is None:
            if report is None:
                starts = session.scalar(
                    select(func.min(Draw.evaluation_at)).where(Draw.tender_id == tender.id)
                )
                # Before check-in the room names no tender (R-E4): the time says which evaluation.
                yield Todo(_("Check in to the evaluation room"), _room(tender), "", starts)
            continue
        sheet = session.get(ScoreSheet, (tender.id, seat.id))
        if report is None and (sheet is None or sheet.submitted_at is None):
            yield Todo(
                _("Score the bids and submit your sheet"),
                _room(tender, "#sheet"),
                about(tender),
                None,
                "R-V1",
            )
        elif (
            report is not None
            and report.status == "signing"
            and session.get(ReportSignature, (tender.id, seat.id)) is None
        ):
            yield Todo(_("Sign the evaluation report"), _room(tender, "#report"), about(tender), None, "R-V6")


def agency(session: Session, user: User, now: datetime) -> Iterator[Todo]:
    """Candidates to publish within 3 days of the signed report (R-A1); contracts to record (R-A3)."""
    calendar = Calendar.load(session)
    signed = session.execute(
        select(EvaluationReport, Tender)
        .join(Tender, Tender.id == EvaluationReport.tender_id)
        .outerjoin(Publicity, Publicity.tender_id == Tender.id)
        .where(
            Tender.id.in_(assigned_tenders(user)),
            EvaluationReport.status == "signed",
            Publicity.tender_id.is_(None),
        )
    ).all()
    for report, tender in signed:
        yield Todo(
            _("Publish the candidates"),
            _award(tender, "#publish-candidates-form"),
            about(tender),
            publication_due(report, calendar),
            "R-A1",
        )
    yield from _contracts(session, Tender.id.in_(assigned_tenders(user)))


def tenderee(session: Session, user: User, now: datetime) -> Iterator[Todo]:
    """The award decision once the publicity is over (R-A2), then the contract (R-A3)."""
    owned = Tender.tenderee_id == user.organization_id
    undecided = session.scalars(
        select(Tender)
        .join(Publicity, Publicity.tender_id == Tender.id)
        .outerjoin(Award, Award.tender_id == Tender.id)
        .where(owned, Publicity.ends_at <= now, Award.tender_id.is_(None))
    )
    for tender in undecided:
        yield Todo(
            _("Decide the award among the candidates"),
            _award(tender, "#decision-form"),
            about(tender),
            None,
            "R-A2",
        )
    yield from _contracts(session, owned)


def _contracts(session: Session, which) -> Iterator[Todo]:
    rows = session.execute(
        select(Award, Tender)
        .join(Tender, Tender.id == Award.tender_id)
        .where(which, Award.contract_signed_at.is_(None))
    ).all()
    for award, tender in rows:
        yield Todo(
            _("Record the signed contract"),
            _award(tender, "#contract-form"),
            about(tender),
            award.contract_due_at,
            "R-A3",
        )


def supervisor(session: Session, user: User, now: datetime) -> Iterator[Todo]:
    """Each expert of a signed evaluation is reviewed by the supervisors who oversee it (R-R4)."""
    signed = session.scalars(
        select(Tender)
        .join(EvaluationReport, EvaluationReport.tender_id == Tender.id)
        .join(EvaluationRoom, EvaluationRoom.tender_id == Tender.id)
        .where(Tender.id.in_(assigned_tenders(user)), EvaluationReport.status == "signed")
    ).all()
    for tender in signed:
        waiting = session.scalar(
            select(func.count(Expert.id))
            .join(RoomMember, RoomMember.user_id == Expert.user_id)
            .outerjoin(
                ExpertReview, (ExpertReview.expert_id == Expert.id) & (ExpertReview.tender_id == tender.id)
            )
            .where(RoomMember.tender_id == tender.id, ExpertReview.id.is_(None))
        )
        if waiting:
            yield Todo(
                ngettext(
                    "Review %(num)d expert of the committee (一标一评)",
                    "Review %(num)d experts of the committee (一标一评)",
                    waiting,
                ),
                _room(tender, "#reviews"),
                about(tender),
                None,
                "R-R4",
                waiting,
            )
