"""The site's front door: home page, per-role dashboard, health check."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import text

from core import clock, todo
from core.auth import login_required
from core.db import db

bp = Blueprint("web", __name__)


def dashboard_panels(role: str) -> list[Markup]:
    """Panels that domain packages register for a role: callables returning (template, context)."""
    registry = current_app.extensions.setdefault("sunbid.dashboard", {})
    return [
        Markup(render_template(template, **context))  # noqa: S704 (a rendered, autoescaped template)
        for template, context in (panel() for panel in registry.get(role, []))
    ]


def register_panel(app: Flask, role: str, panel: Callable[[], tuple[str, dict[str, Any]]]) -> None:
    app.extensions.setdefault("sunbid.dashboard", {}).setdefault(str(role), []).append(panel)


def register_rules(app: Flask, order: int, section: Callable[[], tuple[Any, list[tuple[str, Any]]]]) -> None:
    """A section of the rules page: a callable returning ``(title, [(rule id, statement), ...])``, so
    that each statement is written where the rule is enforced, with the same numbers."""
    app.extensions.setdefault("sunbid.rules", []).append((order, section))


@bp.get("/rules")
def rules() -> ResponseReturnValue:
    """The rules and time limits the platform enforces, in words, for everyone."""
    sections = [section() for _order, section in sorted(current_app.extensions.get("sunbid.rules", []))]
    return render_template("core/rules.html", sections=sections)


@bp.get("/")
def index() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("web.dashboard"))
    return render_template("core/index.html")


@bp.get("/dashboard")
@login_required
def dashboard() -> ResponseReturnValue:
    """The person's to-do list (core.todo), then their role's panels."""
    now = clock.now()
    return render_template(
        "core/dashboard.html",
        todos=todo.for_user(db.session, current_user, now),
        now=now,
        panels=dashboard_panels(current_user.role),
    )


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    db.session.execute(text("SELECT 1"))
    return jsonify({"status": "ok", "time": clock.now().isoformat()})
