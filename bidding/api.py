"""Tender API (API.md): drafts and publication for agencies, notices for everyone."""

from __future__ import annotations

import contextlib
import uuid

from flask import Blueprint, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, or_, select

from accounts.models import User
from bidding import services
from bidding.serializers import tender_json
from core import clock
from core.api import json_body, paginate
from core.auth import roles_required
from core.db import db
from core.errors import Invalid, NotFound
from core.extensions import client_ip
from core.openapi import api_doc
from core.roles import Role

bp = Blueprint("bidding_api", __name__, url_prefix="/api/v1")

MONEY = {"type": "object", "properties": {"amount_fen": {"type": "integer"}, "currency": {"type": "string"}}}
TENDER_BODY = {
    "type": "object",
    "required": ["title", "category", "tenderee_id", "estimated_price"],
    "properties": {
        "title": {"type": "string"},
        "track": {"enum": ["works", "procurement"]},
        "category": {"type": "string"},
        "tenderee_id": {"type": "string"},
        "estimated_price": MONEY,
        "deposit": MONEY,
        "lots": {"type": "array"},
        "timeline": {"type": "object"},
        "scoring_scheme": {"type": "object"},
        "state_controlled": {"type": "boolean"},
    },
}


def _user_by(ref: str | None, role: Role) -> User | None:
    if not ref:
        return None
    condition = func.lower(User.username) == ref.lower()
    with contextlib.suppress(ValueError):  # a user id works as well as a user name
        condition = or_(condition, User.id == uuid.UUID(ref))
    user = db.session.scalar(select(User).where(condition, User.role == role))
    if user is None:
        raise Invalid(
            _l("No such %(role)s.", role=str(role)), code="invalid_custodian", details={"user": ref}
        )
    return user


@bp.post("/tenders")
@roles_required(Role.AGENCY)
@api_doc(request=TENDER_BODY, responses={201: "the draft tender"})
def create_tender():
    """Create a draft tender (agency)."""
    tender = services.create_draft(db.session, current_user, services.parse_tender(json_body()), client_ip())
    db.session.commit()
    return jsonify(tender_json(tender, clock.now(), manager=True)), 201


@bp.patch("/tenders/<uuid:tender_id>")
@roles_required(Role.AGENCY)
@api_doc(request=TENDER_BODY)
def update_tender(tender_id: uuid.UUID):
    """Replace a draft tender's fields (agency, drafts only)."""
    tender = services.manageable(db.session, current_user, tender_id)
    services.update_draft(db.session, current_user, tender, services.parse_tender(json_body()), client_ip())
    db.session.commit()
    return jsonify(tender_json(tender, clock.now(), manager=True))


@bp.post("/tenders/<uuid:tender_id>/publish")
@roles_required(Role.AGENCY)
@api_doc(
    request={
        "type": "object",
        "required": ["supervisor"],
        "properties": {"supervisor": {"type": "string"}, "notary": {"type": "string"}},
    }
)
def publish_tender(tender_id: uuid.UUID):
    """Publish: checks the timeline (R-T1, R-T2, R-T3, R-T4, R-T6) and splits the opening key."""
    data = json_body(("supervisor",))
    tender = services.manageable(db.session, current_user, tender_id)
    services.publish(
        db.session,
        current_user,
        tender,
        supervisor=_user_by(data["supervisor"], Role.SUPERVISOR),
        notary=_user_by(data.get("notary"), Role.SUPERVISOR) if data.get("notary") else None,
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify(tender_json(tender, clock.now(), manager=True))


@bp.get("/tenders")
@api_doc(public=True)
def list_tenders():
    """Published notices, newest first; `q` searches title, code and text (Chinese works), `category`."""
    query = services.published_query(request.args.get("q"), request.args.get("category"))
    now = clock.now()
    return jsonify(paginate(db.session, query, lambda t: tender_json(t, now)))


@bp.get("/tenders/<uuid:tender_id>")
@api_doc(public=True)
def get_tender(tender_id: uuid.UUID):
    """One notice; drafts only for their agency and tenderee."""
    actor = current_user if current_user.is_authenticated else None
    tender = services.visible(db.session, actor, tender_id)
    manager = actor is not None and actor.organization_id in (tender.agency_id, tender.tenderee_id)
    return jsonify(tender_json(tender, clock.now(), manager=manager))


@bp.get("/tenders/<uuid:tender_id>/opening-key")
@api_doc(public=True)
def opening_key(tender_id: uuid.UUID):
    """The age recipient to seal bids to, with the custodians' share hashes."""
    tender = services.visible(db.session, None, tender_id)
    if tender.opening_key is None:
        raise NotFound(_l("This tender has no opening key yet."), code="opening_key_not_found")
    return jsonify(
        {
            "recipient": tender.opening_key.recipient,
            "threshold": tender.opening_key.threshold,
            "custodians": [
                {"role": s.role, "x": s.x, "share_sha256": s.share_sha256} for s in tender.opening_key.shares
            ],
        }
    )
