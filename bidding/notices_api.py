"""API for what surrounds a notice: documents and downloads (R-T2), clarifications and amendments
(R-T3), questions, objections (R-T4, R-B7), closing the opening (R-B6), and notifications."""

from __future__ import annotations

import uuid

from flask import Blueprint, jsonify, request, send_file
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select, update

from bidding import documents, objections, opening, questions, services
from bidding.models import TenderDocument
from bidding.schemas import (
    AmendmentBody,
    AnswerBody,
    AnswerQuestionsBody,
    CloseOpeningBody,
    DocumentOut,
    ObjectionBody,
    QuestionBody,
    UploadQuery,
)
from core import clock
from core.auth import roles_required
from core.db import db
from core.errors import Invalid
from core.extensions import client_ip
from core.models import Notification
from core.openapi import Raw, Upload, api_doc
from core.roles import Role
from core.schemas import ItemsOut, Out
from core.storage import file_store

bp = Blueprint("bidding_notices_api", __name__, url_prefix="/api/v1")


def _actor():
    return current_user if current_user.is_authenticated else None


def document_json(row: TenderDocument) -> dict:
    return {
        "id": str(row.id),
        "version": row.version,
        "kind": row.kind,
        "title": row.title,
        "body": row.body,
        "filename": row.filename,
        "sha256": row.sha256,
        "size": row.size,
        "affects_bids": row.affects_bids,
        "issued_at": row.issued_at.isoformat() if row.issued_at else None,
        "deadline_before": row.deadline_before.isoformat() if row.deadline_before else None,
        "deadline_after": row.deadline_after.isoformat() if row.deadline_after else None,
        "agency_signer": row.signer_serial,
        "statement_url": f"/api/v1/tenders/{row.tender_id}/documents/{row.id}/statement"
        if row.statement
        else None,
        "file_url": f"/api/v1/tenders/{row.tender_id}/documents/{row.id}/file" if row.sha256 else None,
    }


def _upload_source(query: UploadQuery | None = None):
    """A file as multipart/form-data (`file`) or as the raw body (`?filename=`), streamed either way."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None or not upload.filename:
            return None, None, request.form
        return upload.stream, upload.filename, request.form
    fields = query.model_dump(exclude_none=True) if query is not None else {}
    if request.content_length or request.headers.get("Transfer-Encoding"):
        return request.stream, fields.get("filename"), fields
    return None, None, fields


@bp.post("/tenders/<uuid:tender_id>/documents")
@roles_required(Role.AGENCY)
@api_doc(query=UploadQuery, upload=Upload("file"), responses={201: DocumentOut})
def upload_document(tender_id: uuid.UUID, query: UploadQuery):
    """Add a tender document to a draft (multipart `file`, or raw body with `?filename=&title=`);
    optionally the agency's CMS signature over it, base64 DER, in `X-Document-Signature`."""
    tender = services.manageable(db.session, current_user, tender_id)
    stream, filename, fields = _upload_source(query)
    if stream is None:
        raise Invalid(_l("Attach the file."), code="missing_fields", details={"fields": ["file"]})
    row = documents.upload(
        db.session,
        current_user,
        tender,
        stream,
        filename=filename,
        title=fields.get("title"),
        store=file_store(),
        signature_b64=request.headers.get("X-Document-Signature") or fields.get("signature"),
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify(document_json(row)), 201


@bp.get("/tenders/<uuid:tender_id>/documents")
@api_doc(public=True, responses={200: ItemsOut})
def list_documents(tender_id: uuid.UUID):
    """The documents and every clarification and amendment, in the order issued, with their hashes."""
    actor = _actor()
    tender = services.visible(db.session, actor, tender_id)
    return jsonify(
        {"items": [document_json(d) for d in documents.visible_documents(db.session, actor, tender)]}
    )


@bp.get("/tenders/<uuid:tender_id>/documents/<uuid:document_id>/statement")
@api_doc(public=True, responses={200: Raw("application/json", "the signed statement", {"type": "object"})})
def document_statement(tender_id: uuid.UUID, document_id: uuid.UUID):
    """The platform's signed statement of what was issued and when (Ed25519, like receipts)."""
    actor = _actor()
    tender = services.visible(db.session, actor, tender_id)
    row = documents.document(db.session, actor, tender, document_id)
    if row.statement is None:
        raise Invalid(_l("Not issued yet."), code="document_not_issued")
    return row.statement, 200, {"Content-Type": "application/json"}


@bp.get("/tenders/<uuid:tender_id>/documents/<uuid:document_id>/file")
@roles_required()
@api_doc(responses={200: Raw("application/octet-stream", "the file")})
def download_document(tender_id: uuid.UUID, document_id: uuid.UUID):
    """Download a document's file; the download is recorded (R-T2)."""
    tender = services.visible(db.session, current_user, tender_id)
    row = documents.document(db.session, current_user, tender, document_id)
    documents.record_download(db.session, current_user, tender, row, client_ip())
    db.session.commit()
    response = send_file(
        file_store().path_for(documents.file_of(row)),
        download_name=row.filename,
        as_attachment=True,
        conditional=False,
    )
    response.headers["X-Content-SHA256"] = row.sha256
    return response


@bp.get("/tenders/<uuid:tender_id>/downloads")
@roles_required(Role.AGENCY, Role.TENDEREE, Role.SUPERVISOR)
@api_doc(responses={200: ItemsOut})
def list_downloads(tender_id: uuid.UUID):
    """Who downloaded which version and when: the agency and tenderee; supervisors after the deadline."""
    tender = services.visible(db.session, current_user, tender_id)
    return jsonify({"items": documents.downloads(db.session, current_user, tender)})


@bp.post("/tenders/<uuid:tender_id>/amendments")
@roles_required(Role.AGENCY)
@api_doc(body=AmendmentBody, form=True, upload=Upload("file", raw=False), responses={201: DocumentOut})
def issue_amendment(tender_id: uuid.UUID, body: AmendmentBody):
    """Issue an amendment or clarification (JSON, or multipart with a `file`); R-T3 may move the deadline."""
    tender = services.manageable(db.session, current_user, tender_id)
    stream = filename = None
    if request.mimetype == "multipart/form-data":
        stream, filename, _fields = _upload_source()
    row = documents.issue_change(
        db.session,
        current_user,
        tender,
        kind=body.kind,
        title=body.title,
        body=body.body,
        affects_bids=body.affects_bids,
        store=file_store() if stream is not None else None,
        stream=stream,
        filename=filename,
        signature_b64=request.headers.get("X-Document-Signature"),
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify(document_json(row)), 201


@bp.post("/tenders/<uuid:tender_id>/questions")
@roles_required(Role.TENDERER)
@api_doc(body=QuestionBody, responses={201: Out})
def ask_question(tender_id: uuid.UUID, body: QuestionBody):
    """Ask a question on the documents (until the clarification deadline); others never learn who asked."""
    tender = services.visible(db.session, current_user, tender_id)
    row = questions.ask(db.session, current_user, tender, body.text, client_ip())
    db.session.commit()
    return jsonify({"id": str(row.id), "asked_at": row.asked_at.isoformat()}), 201


@bp.get("/tenders/<uuid:tender_id>/questions")
@api_doc(public=True, responses={200: ItemsOut})
def list_questions(tender_id: uuid.UUID):
    """Answered questions for everyone; pending ones for the agency and for their asker."""
    actor = _actor()
    tender = services.visible(db.session, actor, tender_id)
    return jsonify({"items": questions.listing(db.session, actor, tender)})


@bp.post("/tenders/<uuid:tender_id>/questions/answer")
@roles_required(Role.AGENCY)
@api_doc(body=AnswerQuestionsBody, responses={201: DocumentOut})
def answer_questions(tender_id: uuid.UUID, body: AnswerQuestionsBody):
    """Answer questions in one clarification issued to everyone (R-T3 applies when it affects bids)."""
    tender = services.manageable(db.session, current_user, tender_id)
    row = questions.answer(
        db.session,
        current_user,
        tender,
        list(body.questions),
        body.answer,
        affects_bids=body.affects_bids,
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify(document_json(row)), 201


@bp.post("/tenders/<uuid:tender_id>/objections")
@roles_required(Role.TENDERER)
@api_doc(body=ObjectionBody, responses={201: Out})
def raise_objection(tender_id: uuid.UUID, body: ObjectionBody):
    """Object to the documents (R-T4: pauses the tender until answered) or at the opening (R-B7)."""
    tender = services.visible(db.session, current_user, tender_id)
    row = objections.raise_objection(db.session, current_user, tender, body.stage, body.text, client_ip())
    db.session.commit()
    return jsonify(
        {
            "id": str(row.id),
            "answer_due_at": row.answer_due_at.isoformat(),
            "paused": tender.paused_at is not None,
        }
    ), 201


@bp.get("/tenders/<uuid:tender_id>/objections")
@roles_required()
@api_doc(responses={200: ItemsOut})
def list_objections(tender_id: uuid.UUID):
    """Objections: your own; all of them for the agency and supervisors; the opening's for bidders."""
    tender = services.visible(db.session, current_user, tender_id)
    return jsonify(
        {
            "items": objections.listing(db.session, current_user, tender),
            "paused": tender.paused_at is not None,
        }
    )


@bp.post("/tenders/<uuid:tender_id>/objections/<uuid:objection_id>/answer")
@roles_required(Role.AGENCY)
@api_doc(body=AnswerBody, responses={200: Out})
def answer_objection(tender_id: uuid.UUID, objection_id: uuid.UUID, body: AnswerBody):
    """Answer an objection; the last answered objection to the documents resumes the tender (R-T4)."""
    tender = services.manageable(db.session, current_user, tender_id)
    row = objections.get(db.session, tender, objection_id)
    objections.answer(db.session, current_user, tender, row, body.answer, client_ip())
    db.session.commit()
    return jsonify(
        {
            "id": str(row.id),
            "answered_at": row.answered_at.isoformat() if row.answered_at else None,
            "paused": tender.paused_at is not None,
        }
    )


@bp.post("/tenders/<uuid:tender_id>/opening/close")
@roles_required(Role.AGENCY)
@api_doc(
    body=CloseOpeningBody,
    responses={200: Raw("application/json", "the signed opening record", {"type": "object"})},
)
def close_opening(tender_id: uuid.UUID, body: CloseOpeningBody):
    """Close the opening: classify every bid (R-B6) and sign the record for good (R-B7)."""

    tender = services.manageable(db.session, current_user, tender_id)
    row = opening.close(
        db.session,
        current_user,
        tender,
        dict(body.no_fault),
        forfeit_revoked=body.forfeit_revoked,
        ip=client_ip(),
    )
    db.session.commit()
    return row.record, 200, {"Content-Type": "application/json"}


@bp.get("/notifications")
@roles_required()
@api_doc(responses={200: ItemsOut})
def list_notifications():
    """Your notifications, newest first (unread first in the count)."""
    rows = db.session.scalars(
        select(Notification)
        .where(Notification.user_id == current_user.id)
        .order_by(Notification.created_at.desc())
        .limit(100)
    )
    return jsonify(
        {
            "items": [
                {
                    "id": str(n.id),
                    "subject": n.subject,
                    "body": n.body,
                    "link": n.link,
                    "created_at": n.created_at.isoformat(),
                    "read": n.read_at is not None,
                }
                for n in rows
            ]
        }
    )


@bp.post("/notifications/read")
@roles_required()
@api_doc(responses={200: Out})
def mark_notifications_read():
    """Mark all your notifications read."""

    db.session.execute(
        update(Notification)
        .where(Notification.user_id == current_user.id, Notification.read_at.is_(None))
        .values(read_at=clock.now())
    )
    db.session.commit()
    return jsonify({"ok": True})
