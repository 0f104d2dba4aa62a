"""Scoring-scheme API (API.md): the agency writes it while the tender is a draft; anyone reads it once
the tender is published."""

from __future__ import annotations

import uuid

from flask import Blueprint, jsonify
from flask_login import current_user

from core.auth import roles_required
from core.db import db
from core.extensions import client_ip
from core.openapi import api_doc
from core.roles import Role
from evaluation import services
from evaluation.models import ScoringScheme
from evaluation.schemas import SchemeBody, SchemeOut

bp = Blueprint("evaluation_api", __name__, url_prefix="/api/v1")


def scheme_response(record: ScoringScheme) -> dict:
    return {
        "tender_id": str(record.tender_id),
        "version": record.version,
        "updated_at": record.updated_at.isoformat(),
        **record.definition,
    }


@bp.put("/tenders/<uuid:tender_id>/scoring-scheme")
@roles_required(Role.AGENCY)
@api_doc(body=SchemeBody, responses={200: SchemeOut})
def put_scheme(tender_id: uuid.UUID, body: SchemeBody):
    """Define or replace the scoring scheme (the tender's agency, drafts only; R-V2 weights checked).
    A scheme of the right shape that breaks a rule: 422 scheme_invalid, details.problems names each item."""
    record = services.define_scheme(db.session, current_user, tender_id, body.data(), client_ip())
    db.session.commit()
    return jsonify(scheme_response(record))


@bp.get("/tenders/<uuid:tender_id>/scoring-scheme")
@api_doc(public=True, responses={200: SchemeOut})
def get_scheme(tender_id: uuid.UUID):
    """The tender's scoring scheme: anyone once published; drafts for their agency and tenderee. For a
    works average-price benchmark, after the opening's decryption window: the drawn coefficient and the
    SHA-256 of its seed (the tender id and the opened prices, which every bidder can recompute)."""
    actor = current_user if current_user.is_authenticated else None
    tender, record = services.readable_scheme(db.session, actor, tender_id)
    body = scheme_response(record)
    draw = services.coefficient_draw(db.session, tender, record)
    if draw is not None:
        body["coefficient_draw"] = draw
    return jsonify(body)
