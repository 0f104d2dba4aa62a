"""Wiring of experts into the app: blueprints and dashboard panels (admin, expert, agency, supervisor)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from core.web import register_panel
    from experts import api, labels, views  # noqa: F401  (labels registers words)

    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    from credit import subjects
    from experts import eligibility

    subjects.register("expert", eligibility.subject)  # credit records name experts by profile
    from audit import describe

    describe.register_tender_targets(app, _tender_targets)
    from bidding import steps

    steps.register(app, _steps)
    register_panel(app, "admin", _admin_panel)
    register_panel(app, "expert", _expert_panel)
    register_panel(app, "agency", _agency_panel)
    register_panel(app, "supervisor", _supervisor_panel)
    from experts import tasks

    app.extensions["celery"].conf.beat_schedule["experts-expire-calls"] = {
        "task": tasks.expire_calls.name,
        "schedule": 60.0,
    }


def _tender_targets(session, tender_id) -> list[str]:
    """A tender's draws and their calls, for the audit page's tender filter."""
    from sqlalchemy import select

    from experts.models import Call, Draw

    draws = [str(i) for i in session.scalars(select(Draw.id).where(Draw.tender_id == tender_id))]
    calls = session.scalars(
        select(Call.id).join(Draw, Call.draw_id == Draw.id).where(Draw.tender_id == tender_id)
    )
    return draws + [str(i) for i in calls]


def _admin_panel():
    from sqlalchemy import func, select

    from core.db import db
    from experts.models import Expert

    total = db.session.scalar(select(func.count()).select_from(Expert))
    active = db.session.scalar(select(func.count()).select_from(Expert).where(Expert.status == "active"))
    return "experts/panel_admin.html", {"total": total, "active": active}


def _expert_panel():
    from flask_login import current_user
    from sqlalchemy import select

    from core.db import db
    from experts.models import Expert

    linked = db.session.scalar(select(Expert.id).where(Expert.user_id == current_user.id)) is not None
    pending = 0
    if linked:
        from experts import calls

        pending = sum(1 for c in calls.my_calls(db.session, current_user) if c.status == "pending")
    return "experts/panel_expert.html", {"linked": linked, "pending": pending}


def _draws_by_tender(tenders) -> dict:
    from sqlalchemy import select

    from core.db import db
    from experts.models import Draw

    by_tender: dict = {}
    if tenders:
        rows = db.session.scalars(
            select(Draw).where(Draw.tender_id.in_([t.id for t in tenders])).order_by(Draw.created_at)
        )
        for draw in rows:
            by_tender.setdefault(draw.tender_id, []).append(draw)
    return by_tender


def _agency_panel():
    """Tenders past their deadline, where a draw can be requested (the bidders are known)."""
    from flask_login import current_user
    from sqlalchemy import select

    from bidding.models import Tender
    from bidding.permissions import assigned_tenders
    from core import clock
    from core.db import db

    tenders = db.session.scalars(
        select(Tender)
        .where(
            Tender.id.in_(assigned_tenders(current_user)),
            Tender.status == "published",
            Tender.bid_deadline <= clock.now(),
        )
        .order_by(Tender.bid_deadline.desc())
        .limit(10)
    ).all()
    return "experts/panel_draws.html", {
        "tenders": tenders,
        "draws": _draws_by_tender(tenders),
        "can_request": True,
    }


def _supervisor_panel():
    """Draws this supervisor witnesses."""
    from flask_login import current_user
    from sqlalchemy import select

    from bidding.models import Tender
    from core.db import db
    from experts.models import Draw

    tenders = db.session.scalars(
        select(Tender)
        .where(Tender.id.in_(select(Draw.tender_id).where(Draw.supervisor_id == current_user.id)))
        .order_by(Tender.bid_deadline.desc())
        .limit(10)
    ).all()
    return "experts/panel_draws.html", {
        "tenders": tenders,
        "draws": _draws_by_tender(tenders),
        "can_request": False,
    }


def _steps(session, actor, tender):
    """The expert draw, once the bidders are known (after the deadline)."""
    from flask import url_for

    from bidding import lifecycle
    from bidding.steps import Step
    from experts import draws

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
