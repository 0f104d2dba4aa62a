"""Wiring of experts into the app: blueprints and dashboard panels (admin, expert, agency, supervisor)."""

from __future__ import annotations

from flask import Flask, url_for
from flask_login import current_user
from sqlalchemy import func, select

from audit import describe
from bidding import lifecycle, steps
from bidding.models import Tender
from bidding.permissions import assigned_tenders
from bidding.steps import Step
from core import clock, paging, todo
from core.db import db
from core.roles import Role
from core.web import register_panel
from credit import subjects
from experts import api, draws, eligibility, labels, tasks, todos, views  # noqa: F401  (labels registers words)
from experts.models import Call, Draw, Expert


def init_app(app: Flask) -> None:
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)

    subjects.register("expert", eligibility.subject)  # credit records name experts by profile

    describe.register_tender_targets(app, _tender_targets)
    steps.register(app, _steps)
    register_panel(app, "admin", _admin_panel)
    register_panel(app, "expert", _expert_panel)
    register_panel(app, "agency", _agency_panel)
    register_panel(app, "supervisor", _supervisor_panel)
    todo.register(app, Role.EXPERT, todos.expert)
    todo.register(app, Role.AGENCY, todos.agency)
    todo.register(app, Role.SUPERVISOR, todos.supervisor)

    app.extensions["celery"].conf.beat_schedule["experts-expire-calls"] = {
        "task": tasks.expire_calls.name,
        "schedule": 60.0,
    }


def _tender_targets(session, tender_id) -> list[str]:
    """A tender's draws and their calls, for the audit page's tender filter."""

    draws = [str(i) for i in session.scalars(select(Draw.id).where(Draw.tender_id == tender_id))]
    calls = session.scalars(
        select(Call.id).join(Draw, Call.draw_id == Draw.id).where(Draw.tender_id == tender_id)
    )
    return draws + [str(i) for i in calls]


def _admin_panel():
    total = db.session.scalar(select(func.count()).select_from(Expert))
    active = db.session.scalar(select(func.count()).select_from(Expert).where(Expert.status == "active"))
    return "experts/panel_admin.html", {"total": total, "active": active}


def _expert_panel():
    linked = db.session.scalar(select(Expert.id).where(Expert.user_id == current_user.id)) is not None
    return "experts/panel_expert.html", {"linked": linked}


def _draws_by_tender(tenders) -> dict:
    by_tender: dict = {}
    if tenders:
        rows = db.session.scalars(
            select(Draw).where(Draw.tender_id.in_([t.id for t in tenders])).order_by(Draw.created_at)
        )
        for draw in rows:
            by_tender.setdefault(draw.tender_id, []).append(draw)
    return by_tender


def _draws_panel(query, *, can_request: bool):
    """A page of tenders with their draws (its own page argument: the dashboard has other lists)."""

    page = paging.page_of(db.session, query, 10, param="draws_page")
    return "experts/panel_draws.html", {
        "tenders": page.items,
        "draws": _draws_by_tender(page.items),
        "can_request": can_request,
        "page": page,
    }


def _agency_panel():
    """Tenders past their deadline, where a draw can be requested (the bidders are known)."""

    tenders = (
        select(Tender)
        .where(
            Tender.id.in_(assigned_tenders(current_user)),
            Tender.status == "published",
            Tender.bid_deadline <= clock.now(),
        )
        .order_by(Tender.bid_deadline.desc(), Tender.id)
    )
    return _draws_panel(tenders, can_request=True)


def _supervisor_panel():
    """Draws this supervisor witnesses."""

    tenders = (
        select(Tender)
        .where(Tender.id.in_(select(Draw.tender_id).where(Draw.supervisor_id == current_user.id)))
        .order_by(Tender.bid_deadline.desc(), Tender.id)
    )
    return _draws_panel(tenders, can_request=False)


def _steps(session, actor, tender):
    """The expert draw, once the bidders are known (after the deadline)."""
    if tender.status == lifecycle.TenderStatus.DRAFT:
        return []
    history = draws.draws_for(session, tender)
    formed = any(d.formed_at is not None for d in history)
    if formed:
        url = url_for("experts.draw_page", draw_id=history[-1].id)
    elif lifecycle.deadline_passed(tender):
        url = url_for("experts.draw_new", tender_id=tender.id)
    else:
        url = None
    return [Step(70, "draw", formed, url)]
