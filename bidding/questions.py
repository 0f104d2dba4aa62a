"""Clarification questions (澄清问题): tenderers ask until the clarification deadline; the agency answers
in a clarification issued to everyone, which never says who asked (not even to the agency's pages)."""

from __future__ import annotations

import uuid

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from accounts.models import User
from bidding import documents, periods, permissions
from bidding.models import Question, Tender, TenderDocument
from core import clock
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.roles import Role

MAX_TEXT = 4000


def _text(value: str | None, field: str = "text") -> str:
    text = (value or "").strip()
    if not 5 <= len(text) <= MAX_TEXT:
        raise Invalid(
            _l("Write between 5 and %(n)s characters.", n=MAX_TEXT),
            code="invalid_text",
            details={"field": field},
        )
    return text


def ask(session: Session, actor: User, tender: Tender, text: str, ip: str | None = None) -> Question:
    if actor.role != Role.TENDERER:
        raise Forbidden(_l("Only tenderers ask questions on the documents."), code="role_forbidden")
    if tender.status != "published" or clock.now() < tender.time_of("documents_from"):
        raise Conflict(_l("Questions open with the documents."), code="tender_not_open")
    if not periods.questions_open(tender, clock.now()):  # R-T3
        raise Conflict(
            _l("The deadline for questions has passed."),
            code="clarification_deadline_passed",
            details={"deadline": tender.time_of("clarification_deadline").isoformat()},
        )
    question = Question(
        tender_id=tender.id, asked_by_id=actor.id, organization_id=actor.organization_id, text=_text(text)
    )
    session.add(question)
    session.flush()
    audit.record(
        session,
        actor,
        "bidding.question_asked",
        tender,
        {"question": str(question.id)},
        ip,
        sealed=permissions.bid_scope(tender.id),  # the asker stays anonymous until the deadline
    )
    return question


def answer(
    session: Session,
    actor: User,
    tender: Tender,
    question_ids: list[uuid.UUID],
    body: str,
    *,
    affects_bids: bool = False,
    ip: str | None = None,
) -> TenderDocument:
    """Answer one or more questions in one clarification; it quotes the questions, never the askers."""
    found = [session.get(Question, qid) for qid in question_ids]
    questions = [q for q in found if q is not None and q.tender_id == tender.id]
    if not questions or len(questions) != len(found):
        raise NotFound(_l("No such question."), code="question_not_found")
    if any(q.answer_id is not None for q in questions):
        raise Conflict(_l("A question is already answered."), code="question_answered")
    reply = _text(body, "answer")
    quoted = "\n\n".join(
        f"{_l('Question')} {n}: {q.text}\n{_l('Answer')}: {reply if len(questions) == 1 else ''}".rstrip()
        for n, q in enumerate(questions, start=1)
    )
    if len(questions) > 1:
        quoted += f"\n\n{_l('Answer')}: {reply}"
    clarification = documents.issue_change(
        session,
        actor,
        tender,
        kind="clarification",
        title=str(_l("Answers to questions")),
        body=quoted,
        affects_bids=affects_bids,
        ip=ip,
    )
    for question in questions:
        question.answer_id = clarification.id
    session.flush()
    return clarification


def listing(session: Session, actor: User | None, tender: Tender) -> list[dict]:
    """Answered questions for everyone; pending ones for the agency (without the asker) and the asker."""
    rows = session.scalars(
        select(Question).where(Question.tender_id == tender.id).order_by(Question.asked_at)
    )
    agency = permissions.runs(session, actor, tender)
    out = []
    for q in rows:
        mine = actor is not None and q.asked_by_id == getattr(actor, "id", None)
        if q.answer_id is None and not (agency or mine):
            continue
        out.append(
            {
                "id": str(q.id),
                "text": q.text,
                "asked_at": q.asked_at.isoformat(),
                "answered": q.answer_id is not None,
                "answer_document": str(q.answer_id) if q.answer_id else None,
                "mine": mine,
            }
        )
    return out
