"""The evaluation room in the API (API.md: GET /tenders/{id}/evaluation and the steps under it).
Agency staff get 403 everywhere here (R-E6)."""

from __future__ import annotations

import uuid

from flask import Blueprint, jsonify, send_file
from flask_login import current_user

from accounts.models import User
from audit import proofs
from bidding import services as tenders
from core.auth import roles_required
from core.db import db
from core.extensions import client_ip
from core.openapi import Raw, api_doc
from core.roles import Role
from core.schemas import ItemsOut, Out
from evaluation import committee, report, room, scoring
from evaluation.facts import member_facts
from evaluation.schemas import (
    ChairBody,
    CodeBody,
    ConflictBody,
    ReviewBody,
    RoomBody,
    SheetBody,
    SignatureBody,
)

bp = Blueprint("evaluation_room_api", __name__, url_prefix="/api/v1/tenders/<uuid:tender_id>/evaluation")

MEMBERS = (Role.EXPERT, Role.TENDEREE)


@bp.post("")
@roles_required(Role.AGENCY)
@api_doc(body=RoomBody, responses={201: Out})
def open_room(tender_id: uuid.UUID, body: RoomBody):
    """Seat the committee the draw formed, with the tenderee's representative if the draw allowed one:
    by user name (`representative_username`, as listed by GET .../representatives) or by id."""

    tender = tenders.manageable(db.session, current_user, tender_id)
    name = body.representative_username
    if body.representative and not name:
        user = db.session.get(User, body.representative)
        name = user.username if user else "?"
    committee.seat_committee(db.session, current_user, tender, name, client_ip())
    db.session.commit()
    return jsonify({"seated": True}), 201


@bp.get("/representatives")
@roles_required(Role.AGENCY)
@api_doc(responses={200: ItemsOut})
def representatives(tender_id: uuid.UUID):
    """The tenderee's staff the agency may seat as its one representative (R-E1), by name."""
    from bidding import services as tenders
    from evaluation import committee

    tender = tenders.manageable(db.session, current_user, tender_id)
    return jsonify(
        {
            "items": [
                {"username": u.username, "name": u.display_name}
                for u in committee.representatives(db.session, tender)
            ]
        }
    )


@bp.post("/replacements")
@roles_required(Role.AGENCY)
@api_doc(responses={201: Out})
def seat_replacements(tender_id: uuid.UUID):
    """Seat the experts who accepted a replacement draw's calls (R-E5); how many, never who (R-E4)."""
    from bidding import services as tenders
    from evaluation import committee

    tender = tenders.manageable(db.session, current_user, tender_id)
    rows = committee.seat_replacements(db.session, current_user, tender, client_ip())
    db.session.commit()
    return jsonify({"seated": len(rows)}), 201


@bp.get("/vacancies")
@roles_required(Role.AGENCY)
@api_doc(responses={200: Out})
def vacancies(tender_id: uuid.UUID):
    """Empty seats by specialty after a withdrawal (R-E5), and what R-E1 finds wrong meanwhile."""
    from bidding import services as tenders
    from evaluation import committee

    tender = tenders.manageable(db.session, current_user, tender_id)
    room.room_for(db.session, tender_id)
    return jsonify(
        {
            "vacancies": committee.vacancies(db.session, tender),
            "problems": committee.problems(db.session, tender),
        }
    )


@bp.get("/parts")
@roles_required(*MEMBERS)
@api_doc(responses={200: Out})
def parts(tender_id: uuid.UUID):
    """The bids a sitting member may see: qualification and commercial parts by bidder with their
    files, and the technical parts under blind codes only."""
    tender, _room = room.room_for(db.session, tender_id)
    body = room.parts_view(db.session, current_user, tender)
    body["technical"] = room.blind_view(db.session, current_user, tender)
    return jsonify(body)


@bp.get("/parts/<part>/<key>/files/<int:n>")
@roles_required(*MEMBERS)
@api_doc(responses={200: Raw("application/octet-stream", "the file")})
def part_file(tender_id: uuid.UUID, part: str, key: str, n: int):
    """One file of a part: by bid id (qualification, commercial) or blind code (technical)."""
    tender, _room = room.room_for(db.session, tender_id)
    path, name = room.part_file(db.session, current_user, tender, part, key, n)
    return send_file(path, download_name=name.rsplit("/", 1)[-1], as_attachment=True)


@bp.get("")
@roles_required(*MEMBERS, Role.SUPERVISOR)
@api_doc(responses={200: Out})
def overview(tender_id: uuid.UUID):
    """The sitting: members, check-ins, chair, qualification verdicts (committee and supervisors)."""
    tender, _room = room.room_for(db.session, tender_id)
    return jsonify(room.overview(db.session, current_user, tender))


@bp.post("/check-in")
@roles_required(*MEMBERS)
@api_doc(body=CodeBody, responses={200: Out})
def check_in(tender_id: uuid.UUID, body: CodeBody):
    """Enter the room with a fresh TOTP code, even when signed in; the address is logged."""
    tender, _room = room.room_for(db.session, tender_id)
    seat = room.check_in(db.session, current_user, tender, body.code, client_ip())
    db.session.commit()
    return jsonify({"checked_in_at": seat.checked_in_at.isoformat() if seat.checked_in_at else None})


@bp.post("/conflicts")
@roles_required(*MEMBERS)
@api_doc(body=ConflictBody, responses={200: Out})
def declare_conflict(tender_id: uuid.UUID, body: ConflictBody):
    """Declare a conflict with bidders: you leave the committee and your scores are void (R-E5)."""
    tender, _room = room.room_for(db.session, tender_id)
    room.declare_conflict(db.session, current_user, tender, list(body.bids), body.reason, client_ip())
    db.session.commit()
    return jsonify({"left": True})


@bp.post("/chair")
@roles_required(*MEMBERS)
@api_doc(body=ChairBody, responses={200: Out})
def vote_chair(tender_id: uuid.UUID, body: ChairBody):
    """Vote for the chair; a majority of the sitting members elects."""
    tender, _room = room.room_for(db.session, tender_id)
    chair = room.vote_chair(db.session, current_user, tender, body.candidate, client_ip())
    db.session.commit()
    return jsonify({"chair": str(chair) if chair else None})


@bp.get("/technical")
@roles_required(*MEMBERS)
@api_doc(responses={200: ItemsOut})
def technical(tender_id: uuid.UUID):
    """Technical parts under their blind codes, with the identity-leak findings; never the bidder."""
    tender, _room = room.room_for(db.session, tender_id)
    return jsonify({"items": room.blind_view(db.session, current_user, tender)})


@bp.get("/technical/<code>/files/<int:n>")
@roles_required(*MEMBERS)
@api_doc(responses={200: Raw("application/octet-stream", "the file")})
def technical_file(tender_id: uuid.UUID, code: str, n: int):
    """One file of a technical part, named by its code and number only."""
    tender, _room = room.room_for(db.session, tender_id)
    path = room.blind_file(db.session, current_user, tender, code, n)
    return send_file(path, download_name=f"{code}-{n}{path.suffix.lower()}", as_attachment=True)


@bp.put("/scores")
@roles_required(*MEMBERS)
@api_doc(body=SheetBody, responses={200: Out})
def save_scores(tender_id: uuid.UUID, body: SheetBody):
    """Save your sheet as a draft (partial entries are merged); nothing is visible to others."""
    tender, _room = room.room_for(db.session, tender_id)
    scoring.save(db.session, current_user, tender, body.data(), submit=False, ip=client_ip())
    db.session.commit()
    return jsonify(scoring.my_sheet(db.session, current_user, tender))


@bp.post("/scores")
@roles_required(*MEMBERS)
@api_doc(body=SheetBody, responses={200: Out})
def submit_scores(tender_id: uuid.UUID, body: SheetBody):
    """Submit your sheet (technical bids by code only): complete, in range, then locked (R-V1)."""
    tender, _room = room.room_for(db.session, tender_id)
    scoring.save(db.session, current_user, tender, body.data(), submit=True, ip=client_ip())
    db.session.commit()
    return jsonify(scoring.my_sheet(db.session, current_user, tender))


@bp.get("/scores/mine")
@roles_required(*MEMBERS)
@api_doc(responses={200: Out})
def my_scores(tender_id: uuid.UUID):
    """Your own sheet, as you wrote it."""
    tender, _room = room.room_for(db.session, tender_id)
    return jsonify(scoring.my_sheet(db.session, current_user, tender))


@bp.get("/results")
@roles_required(*MEMBERS, Role.SUPERVISOR)
@api_doc(responses={200: Out})
def results(tender_id: uuid.UUID):
    """Totals, ranking, candidates and flags once every member has submitted (R-V1, R-V3, R-V6)."""
    tender, _room = room.room_for(db.session, tender_id)
    return jsonify(scoring.results(db.session, current_user, tender))


@bp.post("/report")
@roles_required(*MEMBERS)
@api_doc(responses={201: Out})
def draft_report(tender_id: uuid.UUID):
    """The chair puts the results to the committee as the report (blocked flags need a review first)."""

    tender, _room = room.room_for(db.session, tender_id)
    row = report.draft(db.session, current_user, tender, client_ip())
    db.session.commit()
    return jsonify(report.report_json(db.session, row)), 201


@bp.get("/report")
@roles_required(*MEMBERS, Role.SUPERVISOR, Role.AGENCY)
@api_doc(responses={200: Out})
def get_report(tender_id: uuid.UUID):
    """The report and its signatures: committee and supervisors; the agency and tenderee once signed."""

    tender, _room = room.room_for(db.session, tender_id)
    row = report.readable(db.session, current_user, tender)
    body = report.report_json(db.session, row)
    if row.status == "signed":  # with the log proof of its closing entry, which names content_sha256
        body = proofs.with_proof(db.session, body, "evaluation.report_closed", tender.id)
    return jsonify(body)


@bp.get("/report.pdf")
@roles_required(*MEMBERS, Role.SUPERVISOR, Role.AGENCY)
@api_doc(responses={200: Raw("application/pdf", "the report")})
def report_pdf(tender_id: uuid.UUID):
    """The report as a PDF (with its CJK font embedded), as signed."""

    tender, _room = room.room_for(db.session, tender_id)
    path, name = report.pdf_file(db.session, current_user, tender)
    return send_file(path, mimetype="application/pdf", download_name=name)


@bp.post("/report/signatures")
@roles_required(*MEMBERS)
@api_doc(body=SignatureBody, responses={201: Out})
def sign_report(tender_id: uuid.UUID, body: SignatureBody):
    """Sign the report after a fresh code: agree, dissent with reasons, or refuse (R-V6)."""

    tender, _room = room.room_for(db.session, tender_id)
    row = report.sign(
        db.session,
        current_user,
        tender,
        code=body.code,
        decision=body.decision,
        reasons=body.reasons,
        cms_signature=body.cms_signature,
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify({"decision": row.decision, "counted_as": row.counted_as}), 201


@bp.post("/report/close")
@roles_required(*MEMBERS)
@api_doc(responses={200: Out})
def close_report(tender_id: uuid.UUID):
    """The chair closes the report once every member has signed; the result goes to the agency."""

    tender, _room = room.room_for(db.session, tender_id)
    row = report.close(db.session, current_user, tender, client_ip())
    db.session.commit()
    return jsonify(report.report_json(db.session, row))


@bp.post("/reviews")
@roles_required(*MEMBERS)
@api_doc(body=ReviewBody, responses={201: Out})
def record_review(tender_id: uuid.UUID, body: ReviewBody):
    """The chair records a review (复核) for an allowed reason the flags show (R-V4)."""
    tender, _room = room.room_for(db.session, tender_id)
    row = scoring.record_review(
        db.session,
        current_user,
        tender,
        reason=body.reason,
        member_id=body.member,
        bid_key=body.bid,
        criterion=body.criterion,
        points=body.points,
        note=body.note,
        ip=client_ip(),
    )
    db.session.commit()
    _by_code, codes = scoring.blind_addresses(db.session, tender)
    blind = scoring.blind_keys(scoring.scheme_of(db.session, tender))
    return jsonify(scoring.mask(row.diff, codes, blind)), 201


@bp.get("/facts")
@roles_required(Role.SUPERVISOR)
@api_doc(responses={200: ItemsOut})
def facts(tender_id: uuid.UUID):
    """Each member's facts for the post-evaluation review (一标一评, R-R4): check-in, time taken,
    abnormal-score flags, reviews of their scores, withdrawal, their signature."""

    tender, _room = room.room_for(db.session, tender_id)
    return jsonify({"items": member_facts(db.session, tender)})
