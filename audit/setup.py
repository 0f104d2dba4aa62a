"""Wiring of the audit package into the app."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from audit import api, cli, views

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.cli.add_command(cli.audit_cli)
