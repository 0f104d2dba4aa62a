"""Wiring of evaluation into the app."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from evaluation import (  # noqa: F401  (labels registers words)
        api,
        award,
        award_api,
        award_views,
        labels,
        models,
        room_api,
        room_views,
        views,
    )

    app.register_blueprint(api.bp)
    app.register_blueprint(room_api.bp)
    app.register_blueprint(award_api.bp)
    app.extensions.setdefault("sunbid.objection_stages", {})["publicity"] = award.object_during_publicity
    from core.web import register_panel, register_rules

    register_rules(app, 30, award.rules)
    register_panel(app, "supervisor", _overdue_panel)
    from evaluation import facts

    app.extensions["sunbid.evaluation_facts"] = facts.member_facts  # experts' reviews attach them (R-R4)
    app.register_blueprint(views.bp)
    app.register_blueprint(room_views.bp)
    app.register_blueprint(award_views.bp)
    from core.db import db
    from evaluation.models import EvaluationReport

    def report_files():
        from sqlalchemy import select

        from evaluation.models import Award

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
    from core import clock
    from core.db import db
    from evaluation import award

    return "evaluation/panel_supervisor.html", {"items": award.overdue(db.session, clock.now())}
