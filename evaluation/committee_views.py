"""The agency's committee page: seat the committee the draws formed, choosing the tenderee's
representative from a list (R-E1); after a withdrawal (R-E5), request the replacement draw for the
empty seats and seat the replacement. The agency learns how many sit, never who (R-E4)."""

from __future__ import annotations

import uuid

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select

from bidding import permissions
from bidding import services as tenders
from core import clock
from core.auth import roles_required
from core.db import db
from core.extensions import client_ip
from core.roles import Role
from core.uow import attempt
from evaluation import committee
from evaluation.models import EvaluationRoom, MemberKind, RoomMember
from experts import draws
from experts.views import _int, _local_time

bp = Blueprint("evaluation_committee", __name__)


def _page(tender_id: uuid.UUID):
    return redirect(url_for("evaluation_committee.committee_page", tender_id=tender_id))


@bp.get("/tenders/<uuid:tender_id>/committee")
@roles_required(Role.AGENCY)
def committee_page(tender_id: uuid.UUID):
    tender = tenders.manageable(db.session, current_user, tender_id)
    evaluation = db.session.get(EvaluationRoom, tender.id)
    history = draws.draws_for(db.session, tender)
    counts = {}
    if evaluation is not None:
        rows = db.session.execute(
            select(RoomMember.kind, RoomMember.replaced_at.is_(None), func.count())
            .where(RoomMember.tender_id == tender.id)
            .group_by(RoomMember.kind, RoomMember.replaced_at.is_(None))
        ).all()
        counts = {
            "sitting": sum(n for _k, sits, n in rows if sits),
            "experts": sum(n for k, sits, n in rows if sits and k == MemberKind.EXPERT),
            "withdrawn": sum(n for _k, sits, n in rows if not sits),
        }
    supervisors = [
        u
        for row, u in permissions.team(db.session, tender)
        if row.kind == permissions.SUPERVISOR and u.active
    ]
    return render_template(
        "evaluation/committee.html",
        tender=tender,
        room=evaluation,
        history=history,
        accepted=sum(_accepted(d) for d in history),
        allows_representative=bool(history) and history[0].tenderee_representatives == 1,
        representatives=committee.representatives(db.session, tender),
        counts=counts,
        problems=committee.problems(db.session, tender) if evaluation else [],
        vacancies=committee.vacancies(db.session, tender) if evaluation else {},
        waiting=len(committee.accepted_unseated(db.session, tender)) if evaluation else 0,
        supervisors=supervisors,
        form=FlaskForm(),
        now=clock.now(),
    )


def _accepted(draw) -> int:
    from experts import calls

    return calls.accepted(db.session, draw)


@bp.post("/tenders/<uuid:tender_id>/committee")
@roles_required(Role.AGENCY)
def seat(tender_id: uuid.UUID):
    tender = tenders.manageable(db.session, current_user, tender_id)
    if FlaskForm().validate_on_submit():
        representative = request.form.get("representative", "")
        attempt(
            lambda: committee.seat_committee(db.session, current_user, tender, representative, client_ip()),
            _("The committee is seated: its members check in to the evaluation room."),
        )
    return _page(tender_id)


@bp.post("/tenders/<uuid:tender_id>/committee/replacement-draw")
@roles_required(Role.AGENCY)
def replacement_draw(tender_id: uuid.UUID):
    tender = tenders.manageable(db.session, current_user, tender_id)
    form = request.form
    if not FlaskForm().validate_on_submit():
        return _page(tender_id)
    made = {}

    def action():
        seats = {code: _int(form.get(f"count-{code}", "0"), "count") for code in form.getlist("specialty")}
        made["draw"] = committee.request_replacement(
            db.session,
            current_user,
            tender,
            seats,
            supervisor=draws.supervisor_for(db.session, tender, form.get("supervisor")),
            evaluation_at=_local_time(form.get("evaluation_at", ""), "evaluation_at"),
            evaluation_place=form.get("evaluation_place", ""),
            ip=client_ip(),
        )

    if attempt(
        action, _("The replacement draw is committed: you and the supervisor each contribute a random value.")
    ):
        return redirect(url_for("experts.draw_page", draw_id=made["draw"].id))
    return _page(tender_id)


@bp.post("/tenders/<uuid:tender_id>/committee/replacements")
@roles_required(Role.AGENCY)
def seat_replacements(tender_id: uuid.UUID):
    tender = tenders.manageable(db.session, current_user, tender_id)
    if FlaskForm().validate_on_submit():
        attempt(
            lambda: committee.seat_replacements(db.session, current_user, tender, client_ip()),
            _("The replacement is seated: they check in and score like the others (R-E5)."),
        )
    return _page(tender_id)
