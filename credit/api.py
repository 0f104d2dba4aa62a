"""Conduct records API (API.md): supervisors record, publish and revoke; anyone lists the published."""

from __future__ import annotations

import uuid

from flask import Blueprint, jsonify, request, send_file
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from core import clock
from core.api import json_body, paginate
from core.auth import roles_required
from core.db import db
from core.errors import NotFound
from core.extensions import client_ip
from core.openapi import api_doc
from core.roles import Role
from core.storage import file_store
from credit import services
from credit.models import CATEGORIES, SUBJECT_KINDS
from credit.serializers import record_json

bp = Blueprint("credit_api", __name__, url_prefix="/api/v1")

RECORD_BODY = {
    "type": "object",
    "required": ["subject_kind", "subject", "category", "facts", "penalty"],
    "properties": {
        "subject_kind": {"enum": list(SUBJECT_KINDS)},
        "subject": {"type": "string", "description": "organisation id or credit code; expert id"},
        "category": {"enum": list(CATEGORIES)},
        "facts": {"type": "string"},
        "penalty": {"type": "string"},
        "tender_code": {"type": "string"},
        "debarred_from": {"type": "string", "format": "date"},
        "debarred_to": {"type": "string", "format": "date", "description": "last day, inclusive"},
        "evidence": {"type": "string", "format": "binary", "description": "multipart/form-data only"},
    },
}


def _actor():
    return current_user if current_user.is_authenticated else None


@bp.post("/conduct-records")
@roles_required(Role.SUPERVISOR)
@api_doc(request=RECORD_BODY, responses={201: "the draft record"})
def create_record():
    """Record conduct as a draft (JSON, or multipart/form-data with an `evidence` file); R-R3 bounds."""
    evidence = None
    if request.mimetype == "multipart/form-data":
        data = request.form
        upload = request.files.get("evidence")
        if upload is not None and upload.filename:
            evidence = (upload.filename, upload.stream)
    else:
        data = json_body()
    record = services.record_conduct(
        db.session,
        current_user,
        services.parse_input(data),
        evidence=evidence,
        store=file_store(),
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify(record_json(record, clock.now(), manager=True)), 201


@bp.get("/conduct-records")
@api_doc(public=True)
def list_records():
    """Published records (revoked ones stay, marked), newest first; `q` name or credit code, `kind`,
    `category`. Supervisors and admins also see drafts."""
    actor = _actor()
    query = services.listing(
        actor, request.args.get("q"), request.args.get("kind") or None, request.args.get("category") or None
    )
    now, manager = clock.now(), services.may_manage(actor)
    return jsonify(paginate(db.session, query, lambda r: record_json(r, now, manager=manager)))


@bp.get("/conduct-records/<uuid:record_id>")
@api_doc(public=True)
def get_record(record_id: uuid.UUID):
    """One record: public once published; drafts for supervisors and admins."""
    actor = _actor()
    record = services.visible(db.session, actor, record_id)
    return jsonify(record_json(record, clock.now(), manager=services.may_manage(actor)))


@bp.post("/conduct-records/<uuid:record_id>/publish")
@roles_required(Role.SUPERVISOR)
@api_doc(responses={200: "the published record"})
def publish_record(record_id: uuid.UUID):
    """Publish a draft: the penalty and debarment become public and the debarment counts (R-R3)."""
    record = services.visible(db.session, current_user, record_id)
    services.publish(db.session, current_user, record, client_ip())
    db.session.commit()
    return jsonify(record_json(record, clock.now(), manager=True))


@bp.post("/conduct-records/<uuid:record_id>/revoke")
@roles_required(Role.SUPERVISOR)
@api_doc(
    request={"type": "object", "required": ["reason"], "properties": {"reason": {"type": "string"}}},
    responses={200: "the revoked record, kept with the reason"},
)
def revoke_record(record_id: uuid.UUID):
    """Revoke a record with a reason; it stays visible, marked revoked."""
    data = json_body()
    record = services.visible(db.session, current_user, record_id)
    reason = data.get("reason")
    services.revoke(db.session, current_user, record, reason if isinstance(reason, str) else "", client_ip())
    db.session.commit()
    return jsonify(record_json(record, clock.now(), manager=True))


@bp.get("/conduct-records/<uuid:record_id>/evidence")
@roles_required(Role.SUPERVISOR, Role.ADMIN)
@api_doc(responses={200: "the evidence file"})
def evidence(record_id: uuid.UUID):
    """Download the evidence file (supervisors and admins)."""
    return evidence_response(record_id)


def evidence_response(record_id: uuid.UUID):
    """The evidence file as a download; shared by this endpoint and the page."""
    record = services.visible(db.session, current_user, record_id)
    if record.evidence_sha256 is None:
        raise NotFound(_l("This record has no evidence file."), code="evidence_not_found")
    return send_file(
        file_store().open(record.evidence_sha256),
        mimetype="application/octet-stream",
        as_attachment=True,
        download_name=record.evidence_name or "evidence",
        etag=record.evidence_sha256,
    )
