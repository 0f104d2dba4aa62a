"""Expert API (API.md): draws (request, contribute, status, names R-E4, proof R-E2), calls, and the
post-evaluation reviews (R-R4)."""

from __future__ import annotations

import uuid

from flask import Blueprint, jsonify
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from bidding import services as tenders
from bidding.models import Tender
from core.auth import login_required, roles_required
from core.db import db
from core.errors import NotFound
from core.extensions import client_ip
from core.openapi import api_doc
from core.roles import Role
from core.schemas import ItemsOut, Out
from experts import calls, draws, reviews
from experts.models import REVIEW_ASPECTS, Expert, ExpertReview
from experts.schemas import (
    AnswerCallBody,
    CallOut,
    ContributionBody,
    DrawBody,
    DrawOut,
    DrawQuery,
    EmploymentBody,
    ReviewBody,
    ReviewOut,
)

bp = Blueprint("experts_api", __name__, url_prefix="/api/v1")


@bp.post("/tenders/<uuid:tender_id>/draws")
@roles_required(Role.AGENCY)
@api_doc(body=DrawBody, responses={201: DrawOut})
def request_draw(tender_id: uuid.UUID, body: DrawBody):
    """Request an expert draw (agency): the pool is checked (R-E3) and the platform commits to its secret."""
    tender = tenders.manageable(db.session, current_user, tender_id)
    criteria, representatives = draws.parse_criteria(db.session, body.data())
    draw = draws.request_draw(
        db.session,
        current_user,
        tender,
        criteria,
        representatives=representatives,
        supervisor=draws.supervisor_for(db.session, tender, body.supervisor),
        evaluation_at=body.evaluation_at,
        evaluation_place=body.evaluation_place,
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify(draws.status_json(db.session, draw, tender)), 201


@bp.post("/draws/<uuid:draw_id>/contributions")
@roles_required(Role.AGENCY, Role.SUPERVISOR)
@api_doc(body=ContributionBody, responses={200: DrawOut})
def contribute(draw_id: uuid.UUID, body: ContributionBody):
    """Contribute a random value (64 hex characters): the agency and the witnessing supervisor, once each."""
    draw, tender = draws.visible_draw(db.session, current_user, draw_id)
    draws.contribute(db.session, current_user, draw, body.value, client_ip())
    db.session.commit()
    return jsonify(draws.status_json(db.session, draw, tender))


@bp.get("/draws/<uuid:draw_id>")
@login_required
@api_doc(query=DrawQuery, responses={200: DrawOut})
def get_draw(draw_id: uuid.UUID, query: DrawQuery):
    """A draw's status for the tender's agency and supervisors, and for the parties once disclosed.

    Names (R-E4) come with it once the result is determined; before, `?names=1` gives them to
    supervisors (logged) and is refused, and logged, for anyone else.
    """
    names = None
    if query.names:  # asked for names: refused (and logged, R-E4) for every role not allowed them
        names = draws.members(db.session, current_user, draw_id, client_ip())
    draw, tender = draws.visible_draw(db.session, current_user, draw_id)
    body = draws.status_json(db.session, draw, tender)
    if draw.disclosed_at and names is None:
        names = draws.members(db.session, current_user, draw_id, client_ip())
    if names is not None:
        body["members"] = names
        db.session.commit()  # the access line in the audit log
    return jsonify(body)


@bp.get("/draws/<uuid:draw_id>/members")
@login_required
@api_doc(responses={200: ItemsOut})
def draw_members(draw_id: uuid.UUID):
    """The drawn experts by name: supervisors (each access logged), parties after disclosure (R-E4)."""
    rows = draws.members(db.session, current_user, draw_id, client_ip())
    db.session.commit()  # the access line in the audit log
    return jsonify({"items": rows})


@bp.get("/draws/<uuid:draw_id>/proof")
@api_doc(public=True, responses={200: Out})
def draw_proof(draw_id: uuid.UUID):
    """Everything needed to re-run the draw offline (`bidtool verify-draw`), once the result is determined."""
    actor = current_user if current_user.is_authenticated else None
    proof = draws.proof(db.session, actor, draw_id, client_ip())
    db.session.commit()  # a supervisor's look before disclosure is logged (R-E4)
    return jsonify(proof)


@bp.get("/experts/me/calls")
@roles_required(Role.EXPERT)
@api_doc(responses={200: ItemsOut})
def my_calls():
    """Your calls, newest first: when and where, the answer deadline, and the room once you are seated."""
    from experts.models import Draw

    items = []
    for call in calls.my_calls(db.session, current_user):
        items.append(calls.call_json(db.session, current_user, call, db.session.get(Draw, call.draw_id)))
    return jsonify({"items": items})


@bp.post("/calls/<uuid:call_id>/answer")
@roles_required(Role.EXPERT)
@api_doc(body=AnswerCallBody, responses={200: CallOut})
def answer_call(call_id: uuid.UUID, body: AnswerCallBody):
    """Accept or decline (with a reason) a call: once, before its deadline, by the called expert only."""
    call = calls.answer(
        db.session,
        current_user,
        call_id,
        accept=body.accept,
        reason=body.reason,
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify(
        {
            "id": str(call.id),
            "status": call.status,
            "answered_at": call.answered_at.isoformat() if call.answered_at else None,
        }
    )


@bp.post("/experts/<uuid:expert_id>/reviews")
@roles_required(Role.SUPERVISOR)
@api_doc(body=ReviewBody, responses={201: ReviewOut})
def review_expert(expert_id: uuid.UUID, body: ReviewBody):
    """一标一评: review an expert after an evaluation they sat on (R-R4)."""

    expert = db.session.get(Expert, expert_id)
    tender = db.session.get(Tender, body.tender)
    if expert is None or tender is None:
        raise NotFound(_l("No such expert or tender."), code="not_found")
    row = reviews.record(
        db.session,
        current_user,
        expert,
        tender,
        {a: getattr(body, a) for a in REVIEW_ASPECTS},
        body.notes,
        client_ip(),
    )
    db.session.commit()
    return jsonify(
        {
            "id": str(row.id),
            "facts": row.facts,
            "credit": reviews.credit_score(db.session, expert),
            "status": expert.status,
        }
    ), 201


@bp.get("/experts/<uuid:expert_id>/reviews")
@roles_required(Role.SUPERVISOR, Role.ADMIN, Role.EXPERT)
@api_doc(responses={200: ItemsOut})
def expert_reviews(expert_id: uuid.UUID):
    """An expert's reviews and credit score: supervisors and admins, and the expert about themself."""

    expert = db.session.get(Expert, expert_id)
    if expert is None or (current_user.role == Role.EXPERT and expert.user_id != current_user.id):
        raise NotFound(_l("No such expert."), code="expert_not_found")
    rows = db.session.scalars(
        select(ExpertReview).where(ExpertReview.expert_id == expert.id).order_by(ExpertReview.created_at)
    )
    return jsonify(
        {
            "credit": reviews.credit_score(db.session, expert),
            "status": expert.status,
            "items": [
                {
                    "tender": str(r.tender_id),
                    **{a: getattr(r, a) for a in REVIEW_ASPECTS},
                    "notes": r.notes,
                    "facts": r.facts,
                    "created_at": r.created_at.isoformat(),
                }
                for r in rows
            ],
        }
    )


@bp.get("/experts/<uuid:expert_id>/employments")
@roles_required(Role.ADMIN)
@api_doc(responses={200: ItemsOut})
def employments(expert_id: uuid.UUID):
    """An expert's employment history (R-E3 avoids their employers of the last 3 years): admins."""
    from experts import pool

    expert = pool.get_expert(db.session, expert_id)
    return jsonify({"items": [pool.employment_json(e) for e in expert.employments]})


@bp.post("/experts/<uuid:expert_id>/employments")
@roles_required(Role.ADMIN)
@api_doc(body=EmploymentBody, responses={201: Out})
def add_employment(expert_id: uuid.UUID, body: EmploymentBody):
    """Record where the expert works or worked (dates; the employer's unified social credit code)."""
    from experts import pool

    expert = pool.get_expert(db.session, expert_id)
    row = pool.add_employment(
        db.session,
        current_user,
        expert,
        employer_name=body.employer_name,
        employer_credit_code=body.employer_credit_code,
        start_date=body.start_date,
        end_date=body.end_date,
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify(pool.employment_json(row)), 201
