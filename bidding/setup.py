"""Wiring of bidding into the app."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from bidding import api, calendar_cli

    app.register_blueprint(api.bp)
    app.cli.add_command(calendar_cli.calendar_cli)
