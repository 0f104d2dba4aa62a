"""Sign-in throttling that cannot be turned against the people it protects.

Wrong passwords are counted per (user name as typed, address) and per address, never per account alone:
a stranger who guesses at a staff member's password slows down only their own address, and the staff
member still signs in from theirs. The count and the answer are the same whether the user name exists
or not, so the throttle tells nobody which accounts exist. Wrong second-factor codes are counted per
account, from any address: only someone who already has the password can make them.

Counts live in their own table and are written after the failed request's rollback (DomainError.keep),
in real time (a sandbox clock jump neither lifts nor extends a lock).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import CursorResult, delete, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from accounts.models import SignInThrottle, User
from core import clock
from core.db import get_row
from core.errors import RateLimited


@dataclass(frozen=True)
class Count:
    """What one throttle counts: its row key, its limit, and the user name it is about (if any)."""

    key: bytes
    limit: int
    name_key: bytes | None = None


def _key(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


def name_key(username: str | None) -> bytes:
    return _key("name", (username or "").strip().lower())


def _window() -> timedelta:
    return timedelta(minutes=int(current_app.config["LOGIN_LOCKOUT_MINUTES"]))


def password_keys(username: str | None, ip: str | None) -> list[Count]:
    name = (username or "").strip().lower()
    config = current_app.config
    return [
        Count(_key("name+address", name, ip or ""), int(config["LOGIN_MAX_FAILURES"]), name_key(name)),
        Count(_key("address", ip or ""), int(config["LOGIN_ADDRESS_MAX_FAILURES"])),
    ]


def code_keys(user: User) -> list[Count]:
    limit = int(current_app.config["LOGIN_MAX_FAILURES"])
    return [Count(_key("second-factor", str(user.id)), limit, name_key(user.username))]


def blocked_until(session: Session, keys: list[Count]) -> datetime | None:
    now = clock.wall()
    ends = [
        row.locked_until
        for count in keys
        if (row := session.get(SignInThrottle, count.key)) is not None
        and row.locked_until is not None
        and row.locked_until > now
    ]
    return max(ends) if ends else None


def refuse_if_blocked(session: Session, keys: list[Count], second_factor: bool = False) -> None:
    until = blocked_until(session, keys)
    if until is None:
        return
    when = clock.local(until).strftime("%H:%M")
    if second_factor:
        message = _l("Too many wrong codes for this account. Try again after %(t)s.", t=when)
    else:
        message = _l(
            "Too many failed sign-ins for this user name from your address. Try again after %(t)s.", t=when
        )
    raise RateLimited(
        message,
        code="sign_in_throttled",
        details={"retry_after": until.isoformat()},
    )


def count_failure(session: Session, keys: list[Count]) -> None:
    """One more failure under each key; a key that reaches its limit within the window is blocked."""
    now = clock.wall()
    window = _window()
    dialect = session.get_bind().dialect.name
    for count in keys:
        key, limit = count.key, count.limit
        values = {"key": key, "failures": 0, "window_started_at": now, "name_key": count.name_key}
        if dialect == "postgresql":
            session.execute(postgresql.insert(SignInThrottle).values(**values).on_conflict_do_nothing())
        elif dialect == "sqlite":
            session.execute(sqlite.insert(SignInThrottle).values(**values).on_conflict_do_nothing())
        else:  # pragma: no cover - the two databases we run on are above
            session.execute(insert(SignInThrottle).values(**values))
        row = get_row(session, SignInThrottle, key, with_for_update=True, populate_existing=True)
        if now - row.window_started_at >= window:
            row.failures, row.window_started_at, row.locked_until = 0, now, None
        row.failures += 1
        if row.failures >= limit:
            row.locked_until = now + window
    session.flush()


def clear(session: Session, keys: list[Count]) -> None:
    """A success forgets the failures counted under its own keys (not the address-wide count)."""
    session.execute(delete(SignInThrottle).where(SignInThrottle.key.in_([c.key for c in keys])))


def unlock(session: Session, user: User) -> int:
    """An administrator lifts every lock on ``user``: its name from any address, and its codes."""
    result = cast(
        CursorResult[Any],
        session.execute(delete(SignInThrottle).where(SignInThrottle.name_key == name_key(user.username))),
    )
    session.flush()
    return result.rowcount or 0
