"""Wiring of bidding into the app."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from bidding import admin, api, calendar_cli, views
    from core.extensions import csrf
    from core.web import register_panel

    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(admin.bp)
    csrf.exempt(admin.put_calendar_day)
    csrf.exempt(admin.put_rate)
    register_panel(app, "agency", _agency_panel)
    from bidding import bids, tasks
    from core.db import db

    app.extensions.setdefault("sunbid.file_refs", []).append(lambda: bids.referenced_files(db.session))

    app.extensions["celery"].conf.beat_schedule["bidding-pay-refunds"] = {
        "task": tasks.pay_refunds.name,
        "schedule": 600.0,
    }
    app.cli.add_command(calendar_cli.calendar_cli)


def _agency_panel():
    from flask_login import current_user
    from sqlalchemy import select

    from bidding.models import Tender
    from bidding.services import phase
    from core import clock
    from core.db import db

    rows = db.session.scalars(
        select(Tender)
        .where(Tender.agency_id == current_user.organization_id)
        .order_by(Tender.created_at.desc())
        .limit(10)
    ).all()
    return "bidding/panel_agency.html", {"tenders": rows, "now": clock.now(), "phase": phase}
