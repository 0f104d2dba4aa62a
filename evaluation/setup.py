"""Wiring of evaluation into the app."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from evaluation import api, models, room_api, views  # noqa: F401  (models: tables known to the metadata)

    app.register_blueprint(api.bp)
    app.register_blueprint(room_api.bp)
    app.register_blueprint(views.bp)
