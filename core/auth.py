"""Access decorators shared by every domain: who may call a page or an API endpoint."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from core.errors import Forbidden, Unauthorized
from core.roles import Role


def is_api_request() -> bool:
    """The JSON API, or a page's own script asking for JSON (fetch with ``Accept: application/json``,
    e.g. the tenderer's workbench): both get refusals as ``{"error": {code, message}}``."""
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def roles_required(*roles: Role) -> Callable[..., Any]:
    """Signed in with one of ``roles`` (none given: any signed-in user)."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                if is_api_request():
                    raise g.get("auth_error") or Unauthorized(_l("Sign in first."))
                return redirect(url_for("accounts.sign_in", next=request.full_path.rstrip("?")))
            if roles and current_user.role not in roles:
                raise Forbidden(_l("Your role may not do this."), code="role_forbidden")
            return view(*args, **kwargs)

        wrapped.allowed_roles = tuple(roles)  # type: ignore[attr-defined]  # read by the OpenAPI document and the access tests
        return wrapped

    return decorate


login_required = roles_required()
