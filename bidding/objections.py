"""Objections (异议). To the documents: accepted until the objection deadline, at the earliest 10 days
before the bid deadline and moving with it (``bidding.periods``); the agency answers within 3 days and
the tender is paused until it does (R-T4). At the
opening: raised by a bidder while the opening runs, answered there, and put in the record (R-B7)."""

from __future__ import annotations

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from accounts.models import Organization, User
from bidding import hall_changes, periods, permissions
from bidding.bidders import has_submitted_bid
from bidding.calendar import Calendar
from bidding.models import Objection, Opening, Tender
from core import clock
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.notifications import notify
from core.present import when
from core.roles import Role

MAX_TEXT = 8000


def _text(value: str | None, field: str) -> str:
    text = (value or "").strip()
    if not 5 <= len(text) <= MAX_TEXT:
        raise Invalid(
            _l("Write between 5 and %(n)s characters.", n=MAX_TEXT),
            code="invalid_text",
            details={"field": field},
        )
    return text


def raise_objection(
    session: Session, actor: User, tender: Tender, stage: str, text: str, ip: str | None = None
) -> Objection:
    if actor.role != Role.TENDERER:
        raise Forbidden(_l("Tenderers raise objections."), code="role_forbidden")
    now = clock.now()
    body = _text(text, "text")
    if stage == "documents":
        if tender.status != "published" or now < tender.time_of("documents_from"):
            raise Conflict(_l("Objections open with the documents."), code="tender_not_open")
        calendar = Calendar.load(session)
        closes = periods.objections_close(tender, calendar)
        if now >= closes:  # R-T4
            raise Conflict(
                _l(
                    "Objections to the documents closed at %(deadline)s.",
                    deadline=when(closes),
                ),
                code="objection_deadline_passed",
                details={"deadline": closes.isoformat(), "rule": "R-T4"},
            )
        due = periods.answer_due(now, calendar)  # R-T4: within 3 days
        if tender.paused_at is None:
            tender.paused_at = now
    elif stage == "opening":
        opening = session.get(Opening, tender.id)
        if opening is None or opening.status != "decrypting" or opening.decrypt_until is None:
            raise Conflict(
                _l("Objections at the opening are raised while it runs."), code="opening_not_decrypting"
            )
        if not has_submitted_bid(session, tender.id, actor.organization_id):
            raise Forbidden(_l("Only bidders object at the opening."), code="not_a_bidder")
        due = opening.decrypt_until
    else:
        # Later stages belong to later packages (publicity: evaluation), which register a handler here
        # because bidding must not import them.
        handler = current_app.extensions.get("sunbid.objection_stages", {}).get(stage)
        if handler is None:
            raise Invalid(
                _l("Objections are to the documents, at the opening or during publicity."),
                code="invalid_stage",
            )
        return handler(session, actor, tender, text, ip)
    objection = Objection(
        tender_id=tender.id,
        stage=stage,
        raised_by_id=actor.id,
        organization_id=actor.organization_id,
        text=body,
        raised_at=now,
        answer_due_at=due,
    )
    session.add(objection)
    session.flush()
    audit.record(
        session,
        actor,
        "bidding.objection_raised",
        tender,
        {
            "objection": str(objection.id),
            "stage": stage,
            "answer_due_at": due.isoformat(),
            "paused": stage == "documents",
        },
        ip,
    )
    hall_changes.touch(session, tender.id)  # the hall shows opening objections and a pause (R-T4, R-B7)
    return objection


def answer(
    session: Session, actor: User, tender: Tender, objection: Objection, text: str, ip: str | None = None
) -> Objection:
    if not permissions.runs(session, actor, tender):
        raise Forbidden(_l("The tender's agency answers objections."), code="role_forbidden")
    if objection.tender_id != tender.id:
        raise NotFound(_l("No such objection."), code="objection_not_found")
    if objection.answered_at is not None:
        raise Conflict(_l("This objection is already answered."), code="objection_answered")
    if objection.stage == "opening":
        opening = session.get(Opening, tender.id)
        if opening is None or opening.status != "decrypting":
            raise Conflict(_l("The opening is closed."), code="opening_not_decrypting")
    now = clock.now()
    objection.answer, objection.answered_by_id, objection.answered_at = _text(text, "answer"), actor.id, now
    resumed = False
    if objection.stage == "documents" and not pending(session, tender, "documents"):
        tender.paused_at, resumed = None, True
    session.flush()
    audit.record(
        session,
        actor,
        "bidding.objection_answered",
        tender,
        {
            "objection": str(objection.id),
            "stage": objection.stage,
            "late": now > objection.answer_due_at,
            "resumed": resumed,
        },
        ip,
    )
    hall_changes.touch(session, tender.id)
    raiser = session.get(User, objection.raised_by_id)
    notify(
        session,
        raiser,
        str(_l("Your objection on %(code)s was answered", code=tender.code)),
        objection.answer,
        f"/tenders/{tender.id}",
    )
    return objection


def pending(session: Session, tender: Tender, stage: str) -> list[Objection]:
    return list(
        session.scalars(
            select(Objection).where(
                Objection.tender_id == tender.id, Objection.stage == stage, Objection.answered_at.is_(None)
            )
        )
    )


def get(session: Session, tender: Tender, objection_id) -> Objection:
    row = session.get(Objection, objection_id)
    if row is None or row.tender_id != tender.id:
        raise NotFound(_l("No such objection."), code="objection_not_found")
    return row


def listing(session: Session, actor: User | None, tender: Tender) -> list[dict]:
    """The objector sees its own; the agency and supervisors see all; bidders see the opening ones
    (they are in the opening record anyway). Objectors are named only to the agency and supervisors."""
    if actor is None:
        return []
    staff = permissions.oversees(session, actor, tender) or permissions.runs(session, actor, tender)
    bidder = actor.role == Role.TENDERER and has_submitted_bid(session, tender.id, actor.organization_id)
    rows = session.scalars(
        select(Objection).where(Objection.tender_id == tender.id).order_by(Objection.raised_at)
    )
    out = []
    for o in rows:
        mine = o.organization_id is not None and o.organization_id == actor.organization_id
        if not (staff or mine or (bidder and o.stage == "opening")):
            continue
        item = {
            "id": str(o.id),
            "stage": o.stage,
            "text": o.text,
            "raised_at": o.raised_at.isoformat(),
            "answer_due_at": o.answer_due_at.isoformat(),
            "answer": o.answer,
            "answered_at": o.answered_at.isoformat() if o.answered_at else None,
            "mine": mine,
        }
        if staff:
            org = session.get(Organization, o.organization_id) if o.organization_id else None
            item["raised_by"] = org.name if org else None
        out.append(item)
    return out
