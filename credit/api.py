"""Conduct records API (API.md): supervisors record, publish and revoke; anyone lists the published."""

from __future__ import annotations

import uuid

from flask import Blueprint, jsonify, request, send_file
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from core import clock
from core.api import paginate
from core.auth import roles_required
from core.db import db
from core.errors import NotFound
from core.extensions import client_ip
from core.openapi import Raw, Upload, api_doc
from core.roles import Role
from core.schemas import PageOut
from core.storage import file_store
from credit import services
from credit.schemas import RecordBody, RecordListQuery, RecordOut, RevokeRecordBody
from credit.serializers import record_json

bp = Blueprint("credit_api", __name__, url_prefix="/api/v1")


def _actor():
    return current_user if current_user.is_authenticated else None


@bp.post("/conduct-records")
@roles_required(Role.SUPERVISOR)
@api_doc(body=RecordBody, form=True, upload=Upload("evidence", raw=False), responses={201: RecordOut})
def create_record(body: RecordBody):
    """Record conduct as a draft (JSON, or multipart/form-data with an `evidence` file); R-R3 bounds."""
    evidence = None
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("evidence")
        if upload is not None and upload.filename:
            evidence = (upload.filename, upload.stream)
    record = services.record_conduct(
        db.session,
        current_user,
        services.parse_input(body.data()),
        evidence=evidence,
        store=file_store(),
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify(record_json(record, clock.now(), manager=True)), 201


@bp.get("/conduct-records")
@api_doc(public=True, query=RecordListQuery, responses={200: PageOut})
def list_records(query: RecordListQuery):
    """Published records (revoked ones stay, marked), newest first; `q` name or credit code, `kind`,
    `category`. Supervisors and admins also see drafts."""
    actor = _actor()
    rows = services.listing(actor, query.q, query.kind, query.category)
    now, manager = clock.now(), services.may_manage(actor)
    return jsonify(paginate(db.session, rows, lambda r: record_json(r, now, manager=manager), page=query))


@bp.get("/conduct-records/<uuid:record_id>")
@api_doc(public=True, responses={200: RecordOut})
def get_record(record_id: uuid.UUID):
    """One record: public once published; drafts for supervisors and admins."""
    actor = _actor()
    record = services.visible(db.session, actor, record_id)
    return jsonify(record_json(record, clock.now(), manager=services.may_manage(actor)))


@bp.post("/conduct-records/<uuid:record_id>/publish")
@roles_required(Role.SUPERVISOR)
@api_doc(responses={200: RecordOut})
def publish_record(record_id: uuid.UUID):
    """Publish a draft: the penalty and debarment become public and the debarment counts (R-R3)."""
    record = services.visible(db.session, current_user, record_id)
    services.publish(db.session, current_user, record, client_ip())
    db.session.commit()
    return jsonify(record_json(record, clock.now(), manager=True))


@bp.post("/conduct-records/<uuid:record_id>/revoke")
@roles_required(Role.SUPERVISOR)
@api_doc(body=RevokeRecordBody, responses={200: RecordOut})
def revoke_record(record_id: uuid.UUID, body: RevokeRecordBody):
    """Revoke a record with a reason; it stays visible, marked revoked."""
    record = services.visible(db.session, current_user, record_id)
    services.revoke(db.session, current_user, record, body.reason, client_ip())
    db.session.commit()
    return jsonify(record_json(record, clock.now(), manager=True))


@bp.get("/conduct-records/<uuid:record_id>/evidence")
@roles_required(Role.SUPERVISOR, Role.ADMIN)
@api_doc(responses={200: Raw("application/octet-stream", "the evidence file")})
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
