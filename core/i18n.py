"""Locale choice: explicit switch (session) > the user's saved choice > Accept-Language > zh_CN."""

from __future__ import annotations

from flask import Blueprint, current_app, g, has_request_context, redirect, request, session, url_for

LOCALES = ("zh_CN", "en")

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    if not has_request_context():
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = session.get("lang")
    if chosen in LOCALES:
        return chosen
    # Only a user already loaded for this request: loading one here could re-enter gettext
    # (Flask-Login flashes a translated message) and recurse without end.
    user = g.get("_login_user")
    user_locale = getattr(user, "locale", None)
    if user_locale in LOCALES:
        return user_locale
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best and best.startswith("en"):
        return "en"
    if best:
        return "zh_CN"
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def safe_next(target: str | None, fallback: str) -> str:
    """Only same-site relative paths: an open redirect would help phishing for credentials."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return fallback


@bp.post("/lang/<code>")
def switch(code: str):
    if code in LOCALES:
        session["lang"] = code
    return redirect(safe_next(request.form.get("next"), url_for("web.index")))
