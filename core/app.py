"""The application factory."""

from __future__ import annotations

import importlib
import json
import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask, Response, flash, g, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from core import api, bodies, cli, clock, i18n, paging, present, sandbox, scheduler, web
from core import config as config_module
from core.auth import is_api_request
from core.db import db
from core.errors import DomainError
from core.extensions import babel, csrf, limiter, login_manager, stamp_arrival
from core.i18n import select_locale
from core.keys import instance_secret, random_key
from core.notifications import register_channel, unread_count
from core.present import error_text
from core.storage import init_store
from core.tasks import init_celery
from core.uow import rollback_for
from core.voice import VoiceSpool, gateway_recipient

ROOT = Path(__file__).resolve().parent.parent

# Domain packages, in dependency order; each exposes ``init_app(app)``. Imported by name so that core
# never imports the packages that build on it.
DOMAIN_PACKAGES = ("audit", "accounts", "credit", "bidding", "experts", "evaluation", "demo")

log = logging.getLogger("sunbid")


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        "sunbid", root_path=str(ROOT), template_folder="templates", static_folder="static", instance_path=None
    )
    app.config.update(config_module.load(overrides))
    app.instance_path = app.config["INSTANCE_PATH"]
    _private_instance(app)
    _embedded_secrets(app)
    hops = int(app.config.get("PROXY_HOPS") or 0)
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]  # Flask's documented way
    # outermost: the time a request arrived (R-B3). mypy reads a function put in a method's place as
    # unbound (python/mypy#708), hence "assignment" beside Flask's documented method-assign.
    app.wsgi_app = stamp_arrival(app.wsgi_app)  # type: ignore[method-assign, assignment]

    db.init_app(app)
    init_store(app)
    login_manager.init_app(app)
    login_manager.login_view = "accounts.sign_in"
    login_manager.login_message = _l("Please sign in to continue.")
    login_manager.session_protection = "strong"
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: "Asia/Shanghai")
    limiter.init_app(app)
    init_celery(app)
    scheduler.init_app(app)
    if app.config.get("VOICE_SPOOL"):
        register_channel(app, "voice", VoiceSpool(app.config["VOICE_SPOOL"], gateway_recipient(app.config)))

    present.init_app(app)
    paging.init_app(app)

    app.register_blueprint(web.bp)
    app.register_blueprint(i18n.bp)
    app.register_blueprint(api.bp)
    _register_errors(app)
    _register_hooks(app)
    bodies.register(app)

    cli.init_app(app)
    for name in DOMAIN_PACKAGES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        if hasattr(module, "init_app"):
            module.init_app(app)
    # The JSON API authenticates by bearer token only, never the session cookie, so CSRF does not
    # apply to it: every /api blueprint is exempt, whichever package registered it.
    for blueprint in app.blueprints.values():
        if (blueprint.url_prefix or "").startswith("/api"):
            csrf.exempt(blueprint)
    return app


def _embedded_secrets(app: Flask) -> None:
    """Fill secrets that embedded mode may generate itself (production config refuses to start without)."""
    inst = app.config["INSTANCE_PATH"]
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = instance_secret(inst, "secret_key", random_key)
    if not app.config.get("DATA_KEY"):
        app.config["DATA_KEY"] = instance_secret(inst, "data_key", random_key)


def _private_instance(app: Flask) -> None:
    """The instance folder holds the database, keys and sealed bids: owner-only (0700), and an embedded
    SQLite database file 0600 before SQLite first opens it (its -wal and -shm files copy its mode)."""
    folder = Path(app.instance_path)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    folder.chmod(0o700)
    url = str(app.config.get("DATABASE_URL") or "")
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        for suffix in ("", "-wal", "-shm"):
            candidate = path.with_name(path.name + suffix)
            if candidate.exists():
                candidate.chmod(0o600)


def _error_response(
    code: str, message: Any, status: int, details: dict[str, Any] | None = None
) -> ResponseReturnValue:
    if is_api_request():
        return jsonify({"error": {"code": code, "message": str(message), "details": details or {}}}), status
    return render_template("core/error.html", message=message, status=status), status


def _register_errors(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def domain_error(err: DomainError) -> ResponseReturnValue:
        rollback_for(err)
        if not is_api_request() and request.method == "POST" and err.status < 500:
            flash(error_text(err), "error")
        message = err.message or err.code if is_api_request() else error_text(err)
        return _error_response(err.code, message, err.status, err.details)

    @app.errorhandler(CSRFError)
    def csrf_error(err: CSRFError) -> ResponseReturnValue:
        return _error_response(
            "csrf_failed",
            _l("The form expired or was not sent from this site. Reload the page and try again."),
            400,
        )

    @app.errorhandler(429)
    def rate_limited(err: HTTPException) -> ResponseReturnValue:
        return _error_response("rate_limited", _l("Too many attempts. Wait a moment and try again."), 429)

    @app.errorhandler(HTTPException)
    def http_error(err: HTTPException) -> ResponseReturnValue:
        codes = {
            404: "not_found",
            405: "method_not_allowed",
            413: "too_large",
            400: "bad_request",
            401: "unauthenticated",
            403: "forbidden",
        }
        messages = {
            404: _l("Not found."),
            405: _l("This method is not allowed here."),
            413: _l("The upload is too large: the platform takes at most %(size)s.", size=_limit_text()),
            400: _l("The request could not be understood."),
            401: _l("Sign in first."),
            403: _l("You may not do this."),
        }
        status = err.code or 500
        session = g.get("_sunbid_session")
        if session is not None:  # a refusal changes nothing, and holds no transaction meanwhile
            session.rollback()
        return _error_response(codes.get(status, "http_error"), messages.get(status, err.description), status)

    @app.errorhandler(Exception)
    def internal_error(err: Exception) -> ResponseReturnValue:
        log.exception("unhandled error on %s %s", request.method, request.path)
        session = g.get("_sunbid_session")
        if session is not None:
            session.rollback()
        return _error_response(
            "internal_error", _l("Something went wrong on our side. It has been logged."), 500
        )


def _limit_text() -> str:
    limit = request.max_content_length  # this request's own, if its view raised it
    return bodies.format_size(limit) if limit else "?"


def _register_hooks(app: Flask) -> None:
    @app.before_request
    def sandbox_clock() -> None:
        sandbox.follow(app)

    @app.after_request
    def security_headers(response: Response) -> Response:
        headers = response.headers
        # 'wasm-unsafe-eval' lets the sealing worker compile its WebAssembly SHA-256 (hash-wasm): it
        # allows WebAssembly compilation only, never eval() of JavaScript.
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; "
            "script-src 'self' 'wasm-unsafe-eval'; "
            "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'",
        )
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config["ENV"] == "production":
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        # A response the view already keeps out of every cache needs no user loaded to say so (the
        # hall's polls are answered without loading one: bidding.hall_views).
        if (
            "no-store" not in headers.get("Cache-Control", "")
            and current_user
            and current_user.is_authenticated
        ):
            headers["Cache-Control"] = "no-store"
        return response

    @app.template_filter("fromjson")
    def fromjson(value: str) -> Any:
        return json.loads(value)

    @app.template_filter("reject_key")
    def reject_key(mapping: dict[str, Any], key: str) -> dict[str, Any]:
        return {k: v for k, v in mapping.items() if k != key}

    @app.context_processor
    def globals_() -> dict[str, Any]:
        return {
            "sandbox": app.config["SANDBOX"],
            "platform_now": clock.now,
            "get_locale": get_locale,
            "unread_notifications": _unread_notifications,
        }


def _unread_notifications() -> int:
    """The count on the bell in the header (called from the layout only when signed in)."""

    return unread_count(db.session, current_user.id)
