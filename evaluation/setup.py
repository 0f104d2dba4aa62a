"""Wiring of evaluation into the app."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from core import clock, todo
from core.db import db
from core.roles import Role
from core.web import register_panel, register_rules
from evaluation import (  # noqa: F401  (labels registers words)
    api,
    award,
    award_api,
    award_views,
    facts,
    labels,
    models,
    room_api,
    room_views,
    todos,
    views,
)
from evaluation.models import Award, EvaluationReport


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

    app.extensions["sunbid.evaluation_facts"] = facts.member_facts  # experts' reviews attach them (R-R4)
    app.register_blueprint(views.bp)
    app.register_blueprint(room_views.bp)
    app.register_blueprint(award_views.bp)

    def report_files():
        contracts = db.session.scalars(
            select(Award.contract_sha256).where(Award.contract_sha256.is_not(None))
        )
        return list(db.session.scalars(select(EvaluationReport.pdf_sha256))) + list(contracts)

    # Signed reports' PDFs and contracts live in the file store: `flask storage sweep` must keep them.
    app.extensions.setdefault("sunbid.file_refs", []).append(report_files)
    from audit.archive import register_parts
    from evaluation import archive_parts

    register_parts(app, archive_parts.members)  # the tender archive (R-R2)


def _overdue_panel():
    """Award steps past their time limit (R-A1 candidates, R-A3 contract), for supervisors."""

    return "evaluation/panel_supervisor.html", {"items": award.overdue(db.session, clock.now())}
