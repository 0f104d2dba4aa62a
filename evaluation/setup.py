"""Wiring of evaluation into the app."""

from __future__ import annotations

from flask import Flask, url_for
from flask_login import current_user
from sqlalchemy import select

from audit.archive import register_parts
from bidding import lifecycle, steps
from bidding.lifecycle import Phase
from bidding.models import Opening, Tender
from bidding.steps import Step
from core import clock, paging, todo
from core.db import db
from core.roles import Role
from core.web import register_panel, register_rules
from evaluation import (  # noqa: F401  (labels registers words)
    api,
    archive_parts,
    award,
    award_api,
    award_views,
    committee_views,
    facts,
    labels,
    models,
    room_api,
    room_views,
    todos,
    views,
)
from evaluation.models import (
    Award,
    EvaluationReport,
    EvaluationRoom,
    Publicity,
    ReportSignature,
    ReportStatus,
    RoomMember,
    RoomStatus,
    ScoreSheet,
    ScoringScheme,
)


def init_app(app: Flask) -> None:
    app.register_blueprint(api.bp)
    app.register_blueprint(room_api.bp)
    app.register_blueprint(award_api.bp)
    app.extensions.setdefault("sunbid.objection_stages", {})["publicity"] = award.object_during_publicity

    register_rules(app, 30, award.rules)
    register_panel(app, "supervisor", _overdue_panel)
    for role in (Role.EXPERT, Role.TENDEREE):
        todo.register(app, role, todos.member)
    todo.register(app, Role.AGENCY, todos.agency)
    todo.register(app, Role.TENDEREE, todos.tenderee)
    todo.register(app, Role.SUPERVISOR, todos.supervisor)
    register_panel(app, "expert", _my_rooms_panel)
    register_panel(app, "tenderee", _tenderee_panel)
    app.extensions["sunbid.seated"] = _seated

    app.extensions["sunbid.evaluation_facts"] = facts.member_facts  # experts' reviews attach them (R-R4)
    app.register_blueprint(views.bp)
    app.register_blueprint(room_views.bp)
    app.register_blueprint(award_views.bp)
    app.register_blueprint(committee_views.bp)
    steps.register(app, _steps)

    def report_files() -> list[str]:
        kept: list[str] = []
        for column in (Award.contract_sha256, Award.award_notice_sha256, Award.result_notice_sha256):
            kept += list(db.session.scalars(select(column).where(column.is_not(None))))
        drafts = select(EvaluationReport.draft_pdf_sha256).where(
            EvaluationReport.draft_pdf_sha256.is_not(None)
        )
        return (
            list(db.session.scalars(select(EvaluationReport.pdf_sha256)))
            + list(db.session.scalars(drafts))
            + kept
        )

    # Signed reports' PDFs and contracts live in the file store: `flask storage sweep` must keep them.
    app.extensions.setdefault("sunbid.file_refs", []).append(report_files)
    register_parts(app, archive_parts.members)  # the tender archive (R-R2)
    lifecycle.register_resolver(app, _phases)


def _phases(session, tender_ids):
    """The phases the award records put tenders in (bidding.lifecycle asks): candidates published,
    awarded, contract signed."""
    found = {
        t: Phase.PUBLICITY
        for t in session.scalars(select(Publicity.tender_id).where(Publicity.tender_id.in_(tender_ids)))
    }
    for row in session.scalars(select(Award).where(Award.tender_id.in_(tender_ids))):
        found[row.tender_id] = Phase.CONTRACTED if row.contract_signed_at else Phase.AWARDED
    return found


def _overdue_panel():
    """Award steps past their time limit (R-A1 candidates, R-A3 contract), for supervisors."""

    return "evaluation/panel_supervisor.html", {"items": award.overdue(db.session, clock.now())}


def _steps(session, actor, tender):
    """The scoring scheme (draft), the committee, the report, candidates, award and contract."""

    draft = tender.status == lifecycle.TenderStatus.DRAFT
    opening = session.get(Opening, tender.id)
    opened = opening is not None and opening.status == lifecycle.OpeningStatus.CLOSED
    report = session.get(EvaluationReport, tender.id)
    signed = report is not None and report.status == ReportStatus.SIGNED
    award = session.get(Award, tender.id)
    award_url = url_for("evaluation_award.award_page", tender_id=tender.id)
    scheme = Step(
        30,
        "scoring_scheme",
        session.get(ScoringScheme, tender.id) is not None,
        url_for("evaluation.scheme_page", tender_id=tender.id),
    )
    if draft:
        return [scheme]
    return [
        scheme,
        Step(
            80,
            "committee",
            session.get(EvaluationRoom, tender.id) is not None,
            url_for("evaluation_committee.committee_page", tender_id=tender.id) if opened else None,
        ),
        Step(90, "report", signed, None),
        Step(100, "candidates", session.get(Publicity, tender.id) is not None, award_url if signed else None),
        Step(110, "award", award is not None, award_url if award else None),
        Step(120, "contract", bool(award and award.contract_signed_at), award_url if award else None),
    ]


def _seated(session, user, tender_id) -> bool:
    return (
        session.scalar(
            select(RoomMember.id).where(
                RoomMember.tender_id == tender_id,
                RoomMember.user_id == user.id,
                RoomMember.replaced_at.is_(None),
            )
        )
        is not None
    )


def my_rooms(session, user) -> list[dict]:
    """The committees ``user`` sits on, newest first, with what they do next there."""
    rows = []
    seats = session.scalars(
        select(RoomMember).where(RoomMember.user_id == user.id, RoomMember.replaced_at.is_(None))
    ).all()
    today = clock.local(clock.now()).date()
    for seat in seats:
        room = session.get(EvaluationRoom, seat.tender_id)
        report = session.get(EvaluationReport, seat.tender_id)
        sheet = session.get(ScoreSheet, (seat.tender_id, seat.id))
        if seat.checked_in_at is None:
            step = "check_in"
        elif report is not None and report.status == ReportStatus.SIGNING:
            step = "signed" if session.get(ReportSignature, (seat.tender_id, seat.id)) else "sign"
        elif report is not None:
            step = "closed"
        elif sheet is None or sheet.submitted_at is None:
            step = "score"
        else:
            step = "wait"
        rows.append(
            {
                "tender": session.get(Tender, seat.tender_id),
                "room": room,
                "step": step,
                "today": clock.local(room.seated_at).date() == today or room.status == RoomStatus.IN_SESSION,
            }
        )
    rows.sort(key=lambda r: (r["step"] == "closed", r["room"].seated_at), reverse=False)
    return rows


def _my_rooms_panel():
    return "evaluation/panel_rooms.html", {"rooms": my_rooms(db.session, current_user)}


def _tenderee_panel():
    """The tenderee's workbench: its tenders with their phase and the next step (R-A2 decision, R-A3
    contract), and the committees its staff member sits on."""
    page = paging.page_of(
        db.session,
        select(Tender)
        .where(
            Tender.tenderee_id == current_user.organization_id,
            Tender.status != lifecycle.TenderStatus.DRAFT,
        )
        .order_by(Tender.published_at.desc(), Tender.id),
        10,
    )
    tenders = page.items
    phases = lifecycle.phases(db.session, tenders)
    now = clock.now()
    rows = []
    for tender in tenders:
        phase = phases[tender.id]
        publicity = db.session.get(Publicity, tender.id) if phase == lifecycle.Phase.PUBLICITY else None
        if publicity is not None:
            next_step = "decide" if now >= publicity.ends_at else "publicity_running"
        elif phase == lifecycle.Phase.AWARDED:
            next_step = "contract"
        else:
            next_step = None
        rows.append({"tender": tender, "phase": phase, "todo": next_step, "publicity": publicity})
    rows.sort(key=lambda r: r["todo"] not in ("decide", "contract"))
    return "evaluation/panel_tenderee.html", {
        "rows": rows,
        "page": page,
        "rooms": my_rooms(db.session, current_user),
    }
