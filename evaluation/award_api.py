"""Award steps in the API (API.md): candidates and their publicity, the tenderee's decision, the award
and the contract."""

from __future__ import annotations

import uuid

from flask import Blueprint, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from bidding import services as tenders
from core.auth import roles_required
from core.db import db
from core.errors import Invalid, NotFound
from core.extensions import client_ip
from core.openapi import Upload, api_doc
from core.roles import Role
from core.schemas import ItemsOut, Out
from core.storage import file_store
from evaluation import award, complaints
from evaluation.models import Award
from evaluation.schemas import AnswerBody, AwardOut, ComplaintBody, ContractQuery, DecisionBody

bp = Blueprint("evaluation_award_api", __name__, url_prefix="/api/v1/tenders/<uuid:tender_id>")


@bp.post("/candidates")
@roles_required(Role.AGENCY)
@api_doc(responses={201: Out})
def publish_candidates(tender_id: uuid.UUID):
    """Publish the signed report's candidates for at least 3 days (R-A1)."""
    tender = tenders.manageable(db.session, current_user, tender_id)
    award.publish_candidates(db.session, current_user, tender, client_ip())
    db.session.commit()
    return jsonify(award.candidates(db.session, tender)), 201


@bp.get("/candidates")
@api_doc(public=True, responses={200: Out})
def get_candidates(tender_id: uuid.UUID):
    """The published candidates, from the publicity on."""
    tender = tenders.visible(db.session, None, tender_id)
    return jsonify(award.candidates(db.session, tender))


@bp.post("/decision")
@roles_required(Role.TENDEREE)
@api_doc(body=DecisionBody, responses={201: AwardOut})
def decide(tender_id: uuid.UUID, body: DecisionBody):
    """The tenderee chooses the winner among the candidates with reasons (R-A2); notices go out (R-A3)."""
    tender = tenders.visible(db.session, current_user, tender_id)
    row = award.decide(db.session, current_user, tender, body.bid, body.reasons, client_ip())
    db.session.commit()
    return jsonify(award.award_json(db.session, row)), 201


@bp.get("/award")
@api_doc(public=True, responses={200: AwardOut})
def get_award(tender_id: uuid.UUID):
    """The award: the winner, when it was decided, the contract deadline and record."""
    tender = tenders.visible(db.session, None, tender_id)
    row = db.session.get(Award, tender.id)
    if row is None:
        raise NotFound(_l("No award yet."), code="award_not_found")
    from audit import proofs

    # With the log proof of the decision's entry, which names the winner (issue 18).
    return jsonify(
        proofs.with_proof(
            db.session, award.award_json(db.session, row), "evaluation.award_decided", tender.id
        )
    )


@bp.post("/contract")
@roles_required(Role.TENDEREE, Role.AGENCY)
@api_doc(query=ContractQuery, upload=Upload("file"), responses={201: AwardOut})
def record_contract(tender_id: uuid.UUID, query: ContractQuery):
    """Record the signed contract: the file as the raw body (or multipart `file`) and `?amount_fen=`;
    every remaining deposit is refunded (R-D3)."""
    tender = tenders.visible(db.session, current_user, tender_id)
    award.require_contract_party(db.session, current_user, tender)  # before a byte of the file is read
    amount: object = query.amount_fen
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("file")
        stream, amount = (upload.stream if upload else None), request.form.get("amount_fen", amount)
    else:
        stream = request.stream
    if stream is None:
        raise Invalid(_l("Attach the file."), code="missing_fields", details={"fields": ["file"]})
    try:
        amount_fen = int(str(amount))
    except ValueError as exc:
        raise Invalid(_l("Amounts are whole fen (integers)."), code="invalid_amount") from exc
    row = award.record_contract(
        db.session, current_user, tender, stream, amount_fen=amount_fen, store=file_store(), ip=client_ip()
    )
    db.session.commit()
    return jsonify(award.award_json(db.session, row)), 201


@bp.post("/complaints")
@roles_required(Role.TENDERER)
@api_doc(body=ComplaintBody, responses={201: Out})
def file_complaint(tender_id: uuid.UUID, body: ComplaintBody):
    """A complaint (works, 10 days) or challenge (procurement, 7 working days) about the result (R-A4)."""

    tender = tenders.visible(db.session, current_user, tender_id)
    row = complaints.file(db.session, current_user, tender, body.text, body.learned_at, client_ip())
    db.session.commit()
    return jsonify({"id": str(row.id), "kind": row.kind}), 201


@bp.get("/complaints")
@roles_required(Role.TENDERER, Role.AGENCY, Role.SUPERVISOR)
@api_doc(responses={200: ItemsOut})
def list_complaints(tender_id: uuid.UUID):
    """Complaints: your own; all for the agency and supervisors."""

    tender = tenders.visible(db.session, current_user, tender_id)
    return jsonify({"items": complaints.listing(db.session, current_user, tender)})


@bp.post("/complaints/<uuid:complaint_id>/answer")
@roles_required(Role.SUPERVISOR, Role.AGENCY)
@api_doc(body=AnswerBody, responses={200: Out})
def answer_complaint(tender_id: uuid.UUID, complaint_id: uuid.UUID, body: AnswerBody):
    """Answer a complaint (the supervisor) or a challenge (the agency)."""

    tender = tenders.visible(db.session, current_user, tender_id)
    row = complaints.answer(db.session, current_user, tender, complaint_id, body.answer, client_ip())
    db.session.commit()
    return jsonify(
        {"id": str(row.id), "answered_at": row.answered_at.isoformat() if row.answered_at else None}
    )
