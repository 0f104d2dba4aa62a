"""Locale choice: explicit switch (session) > the user's saved choice > Accept-Language > zh_CN."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from flask import Blueprint, current_app, g, has_request_context, redirect, request, session, url_for
from flask.typing import ResponseReturnValue

LOCALES = ("zh_CN", "en")

bp = Blueprint("i18n", __name__)


def select_locale() -> str:
    if not has_request_context():
        return str(current_app.config["BABEL_DEFAULT_LOCALE"])
    chosen = session.get("lang")
    if chosen in LOCALES:
        return str(chosen)
    # Only a user already loaded for this request: loading one here could re-enter gettext
    # (Flask-Login flashes a translated message) and recurse without end.
    user = g.get("_login_user")
    user_locale = getattr(user, "locale", None)
    if user_locale in LOCALES:
        return str(user_locale)
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    if best and best.startswith("en"):
        return "en"
    if best:
        return "zh_CN"
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def safe_next(target: str | None, fallback: str) -> str:
    """Only this site's own paths: an open redirect would help phishing for credentials.

    Browsers forgive a lot in a Location header: they drop tabs and newlines, read ``\\`` as ``/`` and
    percent-decode before some of that, so ``/\t/evil.example`` or ``/%5Cevil.example`` would leave the
    site. A target passes only as a plain absolute path whose decoded form has no scheme, no host, no
    control character and no backslash, and does not start with two slashes.
    """
    if not target or not target.startswith("/"):
        return fallback
    decoded = target
    for _ in range(3):  # doubly encoded payloads decode twice
        decoded = unquote(decoded)
    if any(ch in decoded for ch in "\\") or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in decoded):
        return fallback
    if decoded.startswith("//"):
        return fallback
    parts = urlsplit(decoded)
    if parts.scheme or parts.netloc:
        return fallback
    return target


@bp.post("/lang/<code>")
def switch(code: str) -> ResponseReturnValue:
    if code in LOCALES:
        session["lang"] = code
    return redirect(safe_next(request.form.get("next"), url_for("web.index")))
