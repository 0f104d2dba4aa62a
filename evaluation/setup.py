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

        kept = []
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
    from bidding import lifecycle

    lifecycle.register_resolver(app, _phases)


def _phases(session, tender_ids):
    """The phases the award records put tenders in (bidding.lifecycle asks): candidates published,
    awarded, contract signed."""
    from sqlalchemy import select

    from bidding.lifecycle import Phase
    from evaluation.models import Award, Publicity

    found = {
        t: Phase.PUBLICITY
        for t in session.scalars(select(Publicity.tender_id).where(Publicity.tender_id.in_(tender_ids)))
    }
    for award in session.scalars(select(Award).where(Award.tender_id.in_(tender_ids))):
        found[award.tender_id] = Phase.CONTRACTED if award.contract_signed_at else Phase.AWARDED
    return found


def _overdue_panel():
    """Award steps past their time limit (R-A1 candidates, R-A3 contract), for supervisors."""
    from core import clock
    from core.db import db
    from evaluation import award

    return "evaluation/panel_supervisor.html", {"items": award.overdue(db.session, clock.now())}
