"""Wiring of evaluation into the app."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from evaluation import api, models, room_api, views  # noqa: F401  (models: tables known to the metadata)

    app.register_blueprint(api.bp)
    app.register_blueprint(room_api.bp)
    app.register_blueprint(views.bp)
    from core.db import db
    from evaluation.models import EvaluationReport

    def report_files():
        from sqlalchemy import select

        return list(db.session.scalars(select(EvaluationReport.pdf_sha256)))

    # The signed reports' PDFs live in the file store: `flask storage sweep` must keep them.
    app.extensions.setdefault("sunbid.file_refs", []).append(report_files)
