"""Wiring of experts into the app."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from experts import api

    app.register_blueprint(api.bp)
