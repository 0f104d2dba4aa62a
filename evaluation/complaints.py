"""Complaints about the result (R-A4): in works, a 投诉 to the supervising authority within 10 days of
learning of the issue (条例60); in procurement, a 质疑 to the purchaser or its agency within 7 working
days (采购法52). Learning of the issue defaults to the result notice (the award), else the publicity."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from accounts.models import User
from bidding import permissions
from bidding.bidders import has_submitted_bid
from bidding.calendar import Calendar
from bidding.models import Tender
from core import clock
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.notifications import notify
from core.roles import Role
from evaluation.models import Award, Complaint, Publicity

COMPLAINT_DAYS = 10  # R-A4, works
CHALLENGE_WORKING_DAYS = 7  # R-A4, procurement


def deadline(session: Session, tender: Tender, learned_at: datetime) -> datetime:
    calendar = Calendar.load(session)
    if tender.track == "procurement":
        return calendar.closes(learned_at, CHALLENGE_WORKING_DAYS, working=True)
    return calendar.closes(learned_at, COMPLAINT_DAYS)


def _result_known_at(session: Session, tender: Tender) -> datetime:
    award = session.get(Award, tender.id)
    if award is not None:
        return award.decided_at
    publicity = session.get(Publicity, tender.id)
    if publicity is not None:
        return publicity.published_at
    raise Conflict(_l("There is no result to complain about yet."), code="no_result")


def file(
    session: Session,
    actor: User,
    tender: Tender,
    text: str,
    learned_at: datetime | None = None,
    ip: str | None = None,
) -> Complaint:
    if actor.role != Role.TENDERER or not has_submitted_bid(session, tender.id, actor.organization_id):
        raise Forbidden(_l("Bidders complain about the result."), code="not_a_bidder")
    body = (text or "").strip()
    if not 5 <= len(body) <= 8000:
        raise Invalid(_l("Write between 5 and %(n)s characters.", n=8000), code="invalid_text")
    known = _result_known_at(session, tender)
    learned = max(learned_at or known, known)  # nobody learns of the result before it is out
    if learned > clock.now():
        raise Invalid(_l("You cannot have learned of it in the future."), code="invalid_learned_at")
    due = deadline(session, tender, learned)
    if clock.now() >= due:
        raise Conflict(
            _l("Too late: complaints close on %(due)s.", due=clock.local(due - timedelta(seconds=1)).date()),
            code="complaint_too_late",
            details={"rule": "R-A4", "due": due.isoformat()},
        )
    complaint = Complaint(
        tender_id=tender.id,
        kind="challenge" if tender.track == "procurement" else "complaint",
        raised_by_id=actor.id,
        organization_id=actor.organization_id,
        text=body,
        learned_at=learned,
    )
    session.add(complaint)
    session.flush()
    audit.record(
        session,
        actor,
        "evaluation.complaint_filed",
        tender,
        {"complaint": str(complaint.id), "kind": complaint.kind, "due": due.isoformat(), "rule": "R-A4"},
        ip,
    )
    return complaint


def _answerer(session: Session, actor: User, tender: Tender, complaint: Complaint) -> bool:
    if complaint.kind == "complaint":  # 投诉: the supervising authority
        return permissions.oversees(session, actor, tender)
    return permissions.runs(session, actor, tender)  # 质疑: the agency


def answer(
    session: Session, actor: User, tender: Tender, complaint_id, text: str, ip: str | None = None
) -> Complaint:
    complaint = session.get(Complaint, complaint_id)
    if complaint is None or complaint.tender_id != tender.id:
        raise NotFound(_l("No such complaint."), code="complaint_not_found")
    if not _answerer(session, actor, tender, complaint):
        raise Forbidden(
            _l("Complaints go to the supervisor; challenges to the agency."), code="role_forbidden"
        )
    if complaint.answered_at is not None:
        raise Conflict(_l("This complaint is already answered."), code="complaint_answered")
    body = (text or "").strip()
    if len(body) < 2:
        raise Invalid(_l("Write the answer."), code="invalid_text")
    complaint.answer, complaint.answered_by_id, complaint.answered_at = body, actor.id, clock.now()
    session.flush()
    audit.record(
        session, actor, "evaluation.complaint_answered", tender, {"complaint": str(complaint.id)}, ip
    )
    notify(
        session,
        session.get(User, complaint.raised_by_id),
        str(_l("Your complaint on %(code)s was answered", code=tender.code)),
        body,
        f"/tenders/{tender.id}/award",
    )
    return complaint


def listing(session: Session, actor: User, tender: Tender) -> list[dict]:
    staff = permissions.oversees(session, actor, tender) or permissions.runs(session, actor, tender)
    rows = session.scalars(
        select(Complaint).where(Complaint.tender_id == tender.id).order_by(Complaint.raised_at)
    )
    return [
        {
            "id": str(c.id),
            "kind": c.kind,
            "text": c.text,
            "learned_at": c.learned_at.isoformat(),
            "raised_at": c.raised_at.isoformat(),
            "due": deadline(session, tender, c.learned_at).isoformat(),
            "answer": c.answer,
            "answered_at": c.answered_at.isoformat() if c.answered_at else None,
        }
        for c in rows
        if staff or c.organization_id == actor.organization_id
    ]
