"""Wiring of credit into the app."""

from __future__ import annotations

from flask import Flask
from flask_login import current_user

from core import clock, todo
from core.db import db
from core.roles import Role
from core.web import register_panel
from credit import api, labels, services, todos, views  # noqa: F401  (labels registers words)


def init_app(app: Flask) -> None:
    app.register_blueprint(api.bp)
    app.register_blueprint(views.bp)
    register_panel(app, "supervisor", _supervisor_panel)
    todo.register(app, Role.SUPERVISOR, todos.supervisor)
    app.extensions.setdefault("sunbid.file_refs", []).append(lambda: services.referenced_files(db.session))


def _supervisor_panel():
    """The latest conduct records, drafts included (a draft is not public until it is published)."""

    rows = db.session.scalars(services.listing(current_user).limit(8)).all()
    return "credit/panel_supervisor.html", {
        "records": rows,
        "now": clock.now(),
        "standing": services.standing,
    }
