"""Wiring of accounts into the app: blueprints and how a request finds its user."""

from __future__ import annotations

import uuid

from flask import Flask, g, redirect, request, session, url_for
from flask_login import current_user

from accounts import (  # noqa: F401  (labels registers words)
    admin,
    admin_api,
    api,
    ca_cli,
    cert_views,
    cli,
    labels,
    services,
    sessions,
    tasks,
    todos,
    verification,
    verification_views,
    views,
)
from accounts.models import User
from core import todo
from core.db import db
from core.errors import DomainError
from core.extensions import login_manager
from core.roles import Role
from core.web import register_panel


def _load_session_user(user_id: str):
    # The API never authenticates by cookie, so it needs no CSRF defence: bearer tokens only.
    if request.path.startswith("/api/"):
        return None
    try:
        raw_id, version = user_id.split(":")
        user = db.session.get(User, uuid.UUID(raw_id))
    except (ValueError, TypeError):
        return None
    if user is None or str(user.session_version) != version or not user.active:
        return None
    # The cookie names a server-side session: signed out, idle or ended elsewhere means signed out here.
    if sessions.alive(db.session, user, session.get(sessions.COOKIE_KEY)) is None:
        return None
    return user


def _load_token_user(req):
    header = req.headers.get("Authorization", "")
    if not req.path.startswith("/api/") or not header.lower().startswith("bearer "):
        return None
    try:
        user, row = services.user_for_token(db.session, header[7:].strip())
    except DomainError as err:
        g.auth_error = err  # roles_required raises it: "token_expired" beats a bare 401
        return None
    g.api_token = row
    return user


def _company_panel():
    """A tenderer's to-do while its company is not verified."""

    org = current_user.organization
    row = verification.latest(db.session, org) if org else None
    return "accounts/panel_company.html", {"org": org, "pending": row is not None and row.status == "pending"}


_OPEN_TO_FIRST_PASSWORD = {"accounts.first_password", "accounts.sign_out", "i18n.switch", "static"}


def _first_password_gate():
    """Until a person replaces the password an administrator chose, every page leads to that step."""
    if request.path.startswith("/api/") or request.endpoint in _OPEN_TO_FIRST_PASSWORD:
        return None
    if current_user.is_authenticated and current_user.must_change_password:
        return redirect(url_for("accounts.first_password"))
    return None


def init_app(app: Flask) -> None:
    login_manager.user_loader(_load_session_user)
    login_manager.request_loader(_load_token_user)
    app.before_request(_first_password_gate)

    register_panel(app, "tenderer", _company_panel)
    todo.register(app, Role.TENDERER, todos.tenderer)
    todo.register(app, Role.ADMIN, todos.admin)
    app.register_blueprint(views.bp)
    app.register_blueprint(cert_views.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(admin_api.bp)
    app.register_blueprint(verification_views.bp)
    app.register_blueprint(api.bp)

    app.cli.add_command(cli.users_cli)
    app.cli.add_command(ca_cli.ca_cli)
    app.extensions["celery"].conf.beat_schedule["accounts-refresh-crl"] = {
        "task": tasks.refresh_crl.name,
        "schedule": 3600.0,
    }
