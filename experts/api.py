"""Expert draw API (API.md): request, contribute, status, names (R-E4) and the proof (R-E2)."""

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
from core.errors import Invalid
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
    return jsonify(draws.proof(db.session, actor, draw_id))


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
