"""The evaluation room page: check-in with a fresh code, the committee and the chair, conflicts, blind
technical parts, the score sheet, the results with their spread, and the report to sign. The same
services as the API; agency staff are refused (R-E6) until the report is signed, when they read it."""

from __future__ import annotations

import uuid

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select

from accounts.models import Organization, User
from bidding import permissions
from core.auth import roles_required
from core.db import db, get_row
from core.errors import Conflict, Forbidden, Invalid
from core.extensions import client_ip
from core.roles import Role
from core.storage import file_store
from core.uow import attempt
from evaluation import charts, committee, report, room, scoring, sheet_html, viewer
from evaluation.aggregation import REVIEW_REASONS
from evaluation.facts import member_facts
from evaluation.formulas import show_points
from evaluation.models import EvaluationReport, EvaluationRoom, ReportSignature, RoomMember
from experts import reviews
from experts.models import REVIEW_ASPECTS, Expert, ExpertReview

bp = Blueprint("evaluation_room", __name__)

PEOPLE = (Role.EXPERT, Role.TENDEREE, Role.SUPERVISOR, Role.AGENCY)


def _here(tender_id: uuid.UUID, anchor: str = ""):
    return redirect(url_for("evaluation_room.room_page", tender_id=tender_id) + anchor)


def _run(tender_id: uuid.UUID, action, success: str, anchor: str = ""):
    if not FlaskForm().validate_on_submit():
        flash(_("The form expired: try again."), "error")
        return _here(tender_id, anchor)
    attempt(action, success)
    return _here(tender_id, anchor)


@bp.get("/evaluation/<uuid:tender_id>")
@roles_required(*PEOPLE)
def room_page(tender_id: uuid.UUID):
    tender, evaluation = room.room_for(db.session, tender_id)
    actor = current_user
    if actor.role == Role.AGENCY or (
        actor.role == Role.TENDEREE and not _seated(tender.id, actor.id)
    ):  # R-E6: the agency (and a tenderee not sitting) reads only the signed report
        signed = report.readable(db.session, actor, tender)
        return render_template(
            "evaluation/report_only.html", tender=tender, report=report.report_json(db.session, signed)
        )
    overview = room.overview(db.session, actor, tender)
    overseer = permissions.oversees(db.session, actor, tender)
    seat = None if overseer else room.member(db.session, actor, tender, sitting=False)
    context = {"tender": tender, "room": evaluation, "overview": overview, "seat": seat, "form": FlaskForm()}
    context["seats"] = {m["seat"]: m["name"] for m in overview["members"]}
    if seat is not None and seat.checked_in_at is not None and seat.replaced_at is None:
        context["parts"] = room.parts_view(db.session, actor, tender)
        context["bidders"] = [
            {"id": r["key"], "name": r["tenderer"]} for r in context["parts"]["qualification"]
        ]
        context["technical"] = room.blind_view(db.session, actor, tender)
        try:
            context["scheme"] = scoring.scheme_of(db.session, tender)
        except Conflict:
            context["scheme"] = None
        from evaluation.models import ScoreSheet

        locked_at = db.session.scalar(
            select(ScoreSheet.submitted_at).where(
                ScoreSheet.tender_id == tender.id, ScoreSheet.member_id == seat.id
            )
        )
        # A submitted sheet is folded away (a link shows it): the member works from the results now,
        # and a full sheet is thousands of inputs to render on every visit.
        context["sheet_folded"] = locked_at is not None and not request.args.get("sheet")
        context["mine"] = (
            {"submitted_at": locked_at.isoformat()}
            if context["sheet_folded"] and locked_at is not None  # folded only once submitted
            else (scoring.my_sheet(db.session, actor, tender) if context["scheme"] else None)
        )
        context["sheet"], context["show_points"] = sheet_html, show_points
        context["sheet_rows"] = {
            "blind": [(t["code"], t["code"], True) for t in context["technical"]],
            "bids": [(b["id"], b["name"], False) for b in context["bidders"]],
        }
    try:
        result, sheets, void = scoring.aggregate_room(db.session, tender)
    except (Conflict, Forbidden):
        context["results"] = None
    else:
        _by_code, codes = scoring.blind_addresses(db.session, tender)
        context["results"] = scoring.results_json(result, sheets, void, codes)
        context["spread"], context["ranking"] = charts.score_spread(result), charts.ranking(result)
        context["criteria"] = {c.key: c for c in result.scheme.criteria}
        context["tenderers"] = {r.key: r.name for r in result.results}
        context["reviewable"] = REVIEW_REASONS
        context["reviews"] = [
            scoring.mask(r, codes, scoring.blind_keys(result.scheme))
            for r in scoring.reviews(db.session, tender)
        ]
    row = db.session.get(EvaluationReport, tender.id)
    context["report"] = report.report_json(db.session, row) if row else None
    if overseer and row is not None and row.status == "signed":
        context["review_rows"] = _review_rows(tender)
    context["signed_by_me"] = bool(
        row and seat and db.session.get(ReportSignature, (tender.id, seat.id)) is not None
    )
    context["quorum"] = committee.problems(db.session, tender)
    return render_template("evaluation/room.html", **context)


def _seated(tender_id, user_id) -> bool:
    return (
        db.session.scalar(
            select(RoomMember.id).where(RoomMember.tender_id == tender_id, RoomMember.user_id == user_id)
        )
        is not None
    )


@bp.post("/evaluation/<uuid:tender_id>/check-in")
@roles_required(Role.EXPERT, Role.TENDEREE)
def check_in(tender_id: uuid.UUID):
    tender, _room = room.room_for(db.session, tender_id)
    code = request.form.get("code", "")
    return _run(
        tender_id,
        lambda: room.check_in(db.session, current_user, tender, code, client_ip()),
        _("You are checked in."),
    )


@bp.post("/evaluation/<uuid:tender_id>/chair")
@roles_required(Role.EXPERT, Role.TENDEREE)
def vote_chair(tender_id: uuid.UUID):
    tender, _room = room.room_for(db.session, tender_id)
    candidate = request.form.get("candidate", "")
    return _run(
        tender_id,
        lambda: room.vote_chair(db.session, current_user, tender, uuid.UUID(candidate), client_ip()),
        _("Your vote is recorded."),
        "#committee",
    )


@bp.post("/evaluation/<uuid:tender_id>/conflicts")
@roles_required(Role.EXPERT, Role.TENDEREE)
def declare_conflict(tender_id: uuid.UUID):
    tender, _room = room.room_for(db.session, tender_id)
    bids = [uuid.UUID(b) for b in request.form.getlist("bids")]
    reason = request.form.get("reason", "")
    return _run(
        tender_id,
        lambda: room.declare_conflict(db.session, current_user, tender, bids, reason, client_ip()),
        _("You have withdrawn from this evaluation; a replacement will be drawn."),
    )


def sheet_from_form(form) -> dict:
    """Fields q|<bid>|<criterion> (pass/fail), r|<bid>|<criterion> (reason), s|<key>|<criterion> (points)."""
    sheet: dict = {"qualification": {}, "scores": {}}
    for name, value in form.items():
        kind, _sep, rest = name.partition("|")
        key, _sep, criterion = rest.partition("|")
        if not criterion or value == "":
            continue
        if kind == "q":
            entry = {"pass": value == "pass"}
            if value != "pass":
                entry["reason"] = form.get(f"r|{key}|{criterion}", "")
            sheet["qualification"].setdefault(key, {})[criterion] = entry
        elif kind == "s":
            sheet["scores"].setdefault(key, {})[criterion] = value
    return sheet


@bp.post("/evaluation/<uuid:tender_id>/scores")
@roles_required(Role.EXPERT, Role.TENDEREE)
def save_scores(tender_id: uuid.UUID):
    tender, _room = room.room_for(db.session, tender_id)
    submit = request.form.get("submit") == "1"
    data = sheet_from_form(request.form)
    return _run(
        tender_id,
        lambda: scoring.save(db.session, current_user, tender, data, submit=submit, ip=client_ip()),
        _("Your sheet is submitted and locked.") if submit else _("Your sheet is saved as a draft."),
        "#sheet",
    )


@bp.post("/evaluation/<uuid:tender_id>/report")
@roles_required(Role.EXPERT, Role.TENDEREE)
def draft_report(tender_id: uuid.UUID):
    tender, _room = room.room_for(db.session, tender_id)
    return _run(
        tender_id,
        lambda: report.draft(db.session, current_user, tender, client_ip()),
        _("The report is drafted: every member signs it now."),
        "#report",
    )


@bp.post("/evaluation/<uuid:tender_id>/report/sign")
@roles_required(Role.EXPERT, Role.TENDEREE)
def sign_report(tender_id: uuid.UUID):
    tender, _room = room.room_for(db.session, tender_id)
    form = request.form
    return _run(
        tender_id,
        lambda: report.sign(
            db.session,
            current_user,
            tender,
            code=form.get("code", ""),
            decision=form.get("decision", ""),
            reasons=form.get("reasons", ""),
            ip=client_ip(),
        ),
        _("Your signature is recorded."),
        "#report",
    )


@bp.post("/evaluation/<uuid:tender_id>/report/close")
@roles_required(Role.EXPERT, Role.TENDEREE)
def close_report(tender_id: uuid.UUID):
    tender, _room = room.room_for(db.session, tender_id)
    return _run(
        tender_id,
        lambda: report.close(db.session, current_user, tender, client_ip()),
        _("The report is signed and closed; the result goes to the agency."),
        "#report",
    )


def evaluation_link(tender_id, user: User) -> bool:
    """Whether the tender page shows a link to the room for this user."""
    return db.session.get(EvaluationRoom, tender_id) is not None and user.role in PEOPLE


def _review_rows(tender) -> list[dict]:
    """For the supervisor: each member's facts, profile and review (一标一评, R-R4)."""

    rows = []
    for facts in member_facts(db.session, tender):
        expert = db.session.scalar(select(Expert).where(Expert.user_id == uuid.UUID(facts["user"])))
        review = (
            db.session.scalar(
                select(ExpertReview).where(
                    ExpertReview.expert_id == expert.id, ExpertReview.tender_id == tender.id
                )
            )
            if expert
            else None
        )
        rows.append({"facts": facts, "expert": expert, "review": review})
    return rows


@bp.post("/evaluation/<uuid:tender_id>/reviews/<uuid:expert_id>")
@roles_required(Role.SUPERVISOR)
def review_member(tender_id: uuid.UUID, expert_id: uuid.UUID):
    tender, _room = room.room_for(db.session, tender_id)
    expert = db.session.get(Expert, expert_id)
    form = request.form

    def action():
        if expert is None:
            raise Conflict(_("No such expert."), code="expert_not_found")
        ratings = {a: int(form.get(a, "0") or 0) for a in REVIEW_ASPECTS}
        reviews.record(db.session, current_user, expert, tender, ratings, form.get("notes", ""), client_ip())

    return _run(tender_id, action, _("The review is recorded."), "#reviews")


@bp.post("/evaluation/<uuid:tender_id>/reviews")
@roles_required(Role.EXPERT, Role.TENDEREE)
def record_score_review(tender_id: uuid.UUID):
    """The chair records a review (复核) from the form beside its flag (R-V4)."""
    tender, _room = room.room_for(db.session, tender_id)
    form = request.form

    def action():
        try:
            member_id = uuid.UUID(form.get("member", ""))
        except ValueError as exc:
            raise Invalid(
                _("Choose the member whose score changes."),
                code="invalid_member",
                details={"field": "member"},
            ) from exc
        scoring.record_review(
            db.session,
            current_user,
            tender,
            reason=form.get("reason", ""),
            member_id=member_id,
            bid_key=form.get("bid", ""),
            criterion=form.get("criterion") or None,
            points=form.get("points") or None,
            note=form.get("note", ""),
            ip=client_ip(),
        )

    return _run(tender_id, action, _("The review is recorded (R-V4)."), "#results")


@bp.get("/evaluation/<uuid:tender_id>/files/<part>/<key>/<int:n>")
@roles_required(Role.EXPERT, Role.TENDEREE)
def view_file(tender_id: uuid.UUID, part: str, key: str, n: int):
    """One file of a bid part, shown in the page: PDF in the browser's viewer, images and text inline,
    an archive as the list of what it holds; technical parts under their code (暗标)."""
    tender, _room = room.room_for(db.session, tender_id)
    path, name = room.part_file(db.session, current_user, tender, part, key, n)
    what = viewer.kind(path)
    return render_template(
        "evaluation/file.html",
        tender=tender,
        part=part,
        key=key,
        n=n,
        name=name,
        kind=what,
        size=path.stat().st_size,
        text=viewer.text_of(path) if what == "text" else None,
        entries=viewer.archive_entries(path) if what == "archive" else None,
        tenderer=_tenderer_of(tender, part, key),
    )


def _tenderer_of(tender, part: str, key: str) -> str | None:
    """The bidder's name for a part that is not blind; None under a code."""
    if part == room.BLIND_PART:
        return None
    from bidding.models import Bid

    bid = db.session.get(Bid, uuid.UUID(key))
    return get_row(db.session, Organization, bid.organization_id).name if bid else None


@bp.get("/evaluation/<uuid:tender_id>/files/<part>/<key>/<int:n>/raw")
@roles_required(Role.EXPERT, Role.TENDEREE)
def raw_file(tender_id: uuid.UUID, part: str, key: str, n: int):
    """The file itself for the signed-in member (session authentication: no API token in a browser)."""
    from flask import send_file

    tender, _room = room.room_for(db.session, tender_id)
    path, name = room.part_file(db.session, current_user, tender, part, key, n)
    mimetype, inline = viewer.mimetype(path)
    response = send_file(
        path, mimetype=mimetype, as_attachment=not inline, download_name=name.rsplit("/", 1)[-1]
    )
    response.headers["Cache-Control"] = "private, no-store"
    # The room page frames it; nothing a bidder wrote runs script here (viewer.INLINE types only).
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; frame-ancestors 'self'"
    return response


@bp.get("/evaluation/<uuid:tender_id>/report.pdf")
@roles_required(*PEOPLE)
def report_pdf(tender_id: uuid.UUID):
    """The report's PDF for whoever may read the report (committee and supervisors; the agency and the
    tenderee once signed), in the browser's viewer with the session (R-R2: signed once closed)."""
    tender, _room = room.room_for(db.session, tender_id)
    row = report.readable(db.session, current_user, tender)
    response = send_file(
        file_store().path_for(row.pdf_sha256),
        mimetype="application/pdf",
        download_name=f"{tender.code}-evaluation-report.pdf",
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'self'"
    return response
