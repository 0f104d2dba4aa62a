"""Flask extensions, created here and bound in ``create_app``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from flask import has_request_context, request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from core import clock

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

ARRIVAL = "sunbid.arrived"


def client_ip() -> str:
    """The caller's address as the (ProxyFix-corrected) request sees it; logged with every action."""
    return request.remote_addr or "unknown"


def stamp_arrival(wsgi_app: WSGIApplication) -> WSGIApplication:
    """WSGI middleware: note the real time a request arrived, before anything can make it wait (a
    session loaded from the database, SQLite's write lock, PostgreSQL's row locks)."""

    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        environ[ARRIVAL] = clock.real_now()
        return wsgi_app(environ, start_response)

    return app


def arrived_at() -> datetime:
    """The platform time at which this request arrived (R-B3: a bid is judged by when it arrived, not by
    when a lock was granted); outside a request, now."""
    if has_request_context() and ARRIVAL in request.environ:
        return clock.at_real(request.environ[ARRIVAL])
    return clock.now()


login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(key_func=client_ip, default_limits=[])
