"""Expert API (API.md): draws (request, contribute, status, names R-E4, proof R-E2), calls, and the
post-evaluation reviews (R-R4)."""

from __future__ import annotations

import uuid
from datetime import datetime

from flask import Blueprint, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from bidding import services as tenders
from core.api import json_body
from core.auth import login_required, roles_required
from core.db import db
from core.errors import Invalid, NotFound
from core.extensions import client_ip
from core.openapi import api_doc
from core.roles import Role
from experts import calls, draws

bp = Blueprint("experts_api", __name__, url_prefix="/api/v1")

DRAW_BODY = {
    "type": "object",
    "required": ["specialties", "evaluation_at"],
    "properties": {
        "specialties": {"type": "object", "additionalProperties": {"type": "integer"}},
        "backups": {"type": "integer", "description": "extra candidates per specialty"},
        "regions": {"type": "array", "items": {"type": "string"}},
        "tenderee_representatives": {"enum": [0, 1]},
        "evaluation_at": {"type": "string", "format": "date-time"},
        "evaluation_place": {"type": "string"},
        "supervisor": {"type": "string", "description": "user name or id; default: the tender's supervisor"},
    },
}


def parse_time(value, field: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise Invalid(_l("Not a valid time."), code="invalid_time", details={"field": field}) from exc
    if parsed.tzinfo is None:
        raise Invalid(_l("Times need an offset."), code="invalid_time", details={"field": field})
    return parsed


@bp.post("/tenders/<uuid:tender_id>/draws")
@roles_required(Role.AGENCY)
@api_doc(request=DRAW_BODY, responses={201: "the committed draw", 422: "criteria the pool cannot meet"})
def request_draw(tender_id: uuid.UUID):
    """Request an expert draw (agency): the pool is checked (R-E3) and the platform commits to its secret."""
    data = json_body(("specialties", "evaluation_at"))
    tender = tenders.manageable(db.session, current_user, tender_id)
    criteria, representatives = draws.parse_criteria(db.session, data)
    draw = draws.request_draw(
        db.session,
        current_user,
        tender,
        criteria,
        representatives=representatives,
        supervisor=draws.supervisor_for(db.session, tender, data.get("supervisor")),
        evaluation_at=parse_time(data["evaluation_at"], "evaluation_at"),
        evaluation_place=str(data.get("evaluation_place") or ""),
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify(draws.status_json(db.session, draw, tender)), 201


@bp.post("/draws/<uuid:draw_id>/contributions")
@roles_required(Role.AGENCY, Role.SUPERVISOR)
@api_doc(request={"type": "object", "required": ["value"], "properties": {"value": {"type": "string"}}})
def contribute(draw_id: uuid.UUID):
    """Contribute a random value (64 hex characters): the agency and the witnessing supervisor, once each."""
    data = json_body(("value",))
    draw, tender = draws.visible_draw(db.session, current_user, draw_id)
    draws.contribute(db.session, current_user, draw, str(data["value"]), client_ip())
    db.session.commit()
    return jsonify(draws.status_json(db.session, draw, tender))


@bp.get("/draws/<uuid:draw_id>")
@login_required
@api_doc(responses={200: "status and counts; `members` once disclosed, or with ?names=1 for supervisors"})
def get_draw(draw_id: uuid.UUID):
    """A draw's status for the tender's agency and supervisors, and for the parties once disclosed.

    Names (R-E4) come with it once the result is determined; before, `?names=1` gives them to
    supervisors (logged) and is refused, and logged, for anyone else.
    """
    draw, tender = draws.visible_draw(db.session, current_user, draw_id)
    body = draws.status_json(db.session, draw, tender)
    if draw.disclosed_at or request.args.get("names"):
        body["members"] = draws.members(db.session, current_user, draw_id, client_ip())
        db.session.commit()  # the access line in the audit log
    return jsonify(body)


@bp.get("/draws/<uuid:draw_id>/members")
@login_required
def draw_members(draw_id: uuid.UUID):
    """The drawn experts by name: supervisors (each access logged), parties after disclosure (R-E4)."""
    rows = draws.members(db.session, current_user, draw_id, client_ip())
    db.session.commit()  # the access line in the audit log
    return jsonify({"items": rows})


@bp.get("/draws/<uuid:draw_id>/proof")
@api_doc(public=True)
def draw_proof(draw_id: uuid.UUID):
    """Everything needed to re-run the draw offline (`bidtool verify-draw`), once the result is determined."""
    actor = current_user if current_user.is_authenticated else None
    proof = draws.proof(db.session, actor, draw_id, client_ip())
    db.session.commit()  # a supervisor's look before disclosure is logged (R-E4)
    return jsonify(proof)


@bp.post("/calls/<uuid:call_id>/answer")
@roles_required(Role.EXPERT)
@api_doc(
    request={
        "type": "object",
        "required": ["accept"],
        "properties": {"accept": {"type": "boolean"}, "reason": {"type": "string"}},
    }
)
def answer_call(call_id: uuid.UUID):
    """Accept or decline (with a reason) a call: once, before its deadline, by the called expert only."""
    data = json_body()
    if not isinstance(data.get("accept"), bool):
        raise Invalid(_l("accept is true or false."), code="invalid_answer")
    call = calls.answer(
        db.session,
        current_user,
        call_id,
        accept=data["accept"],
        reason=str(data.get("reason") or ""),
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify({"id": str(call.id), "status": call.status, "answered_at": call.answered_at.isoformat()})


@bp.post("/experts/<uuid:expert_id>/reviews")
@roles_required(Role.SUPERVISOR)
@api_doc(
    request={
        "type": "object",
        "required": ["tender", "punctuality", "independence", "competence", "discipline"],
        "properties": {
            "tender": {"type": "string"},
            "punctuality": {"type": "integer", "minimum": 1, "maximum": 5},
            "independence": {"type": "integer", "minimum": 1, "maximum": 5},
            "competence": {"type": "integer", "minimum": 1, "maximum": 5},
            "discipline": {"type": "integer", "minimum": 1, "maximum": 5},
            "notes": {"type": "string"},
        },
    },
    responses={201: "the review, with the evaluation's facts attached"},
)
def review_expert(expert_id: uuid.UUID):
    """一标一评: review an expert after an evaluation they sat on (R-R4)."""
    from bidding.models import Tender
    from experts import reviews
    from experts.models import REVIEW_ASPECTS, Expert

    data = json_body(("tender",))
    expert = db.session.get(Expert, expert_id)
    try:
        tender = db.session.get(Tender, uuid.UUID(str(data["tender"])))
    except ValueError:
        tender = None
    if expert is None or tender is None:
        raise NotFound(_l("No such expert or tender."), code="not_found")
    row = reviews.record(
        db.session,
        current_user,
        expert,
        tender,
        {a: data.get(a) for a in REVIEW_ASPECTS},
        str(data.get("notes") or ""),
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
def expert_reviews(expert_id: uuid.UUID):
    """An expert's reviews and credit score: supervisors and admins, and the expert about themself."""
    from sqlalchemy import select

    from experts import reviews
    from experts.models import REVIEW_ASPECTS, Expert, ExpertReview

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
