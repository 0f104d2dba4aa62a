"""Browser sessions kept on the server, so that they can end.

The session cookie is signed but a copy of it is as good as the original; so the cookie only carries
a random session id, and the server decides whether that session is still alive: not signed out, not
idle for too long (staff and experts: 30 minutes by default), not older than its absolute lifetime, and
not ended because the password changed or the account was disabled. Only the id's SHA-256 is stored.

Session times are real (wall-clock) time, not the platform clock: a sandbox clock moved a month ahead
must not sign everyone out, and a security limit must not be movable by an administrator.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, cast

from flask import current_app
from sqlalchemy import CursorResult, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from accounts.models import User, UserSession
from core import clock
from core.db import write_intent
from core.roles import SECOND_FACTOR_ROLES, Role

COOKIE_KEY = "sid"
TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most this often per session


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def idle_limit(user: User) -> timedelta:
    """Staff and experts (the second-factor roles) time out sooner than tenderers and tenderees."""
    config = current_app.config
    if Role(user.role) in SECOND_FACTOR_ROLES:
        return timedelta(minutes=int(config["SESSION_IDLE_MINUTES_STAFF"]))
    return timedelta(minutes=int(config["SESSION_IDLE_MINUTES"]))


def lifetime() -> timedelta:
    return timedelta(hours=int(current_app.config["SESSION_MAX_HOURS"]))


def start(session: Session, user: User, ip: str | None, user_agent: str | None) -> str:
    """A new session for ``user``; returns the id to put in the cookie (shown nowhere else)."""
    token = secrets.token_urlsafe(32)
    now = clock.wall()
    session.add(
        UserSession(
            id_hash=_digest(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime(),
            ip=ip,
            user_agent=(user_agent or "")[:200],
        )
    )
    session.flush()
    return token


def alive(session: Session, user: User, token: str | None) -> UserSession | None:
    """The live session ``token`` names for ``user``, or None (ended, idle too long, or expired).

    A session found dead is marked ended; a live one has its last-seen time refreshed (at most once a
    minute) so that the idle limit counts from the last request. Both writes go through their own short
    transaction (the request's own unit of work stays the request's), except on SQLite in a request
    that holds the write lock already (``_write``).
    """
    if not token:
        return None
    row = session.get(UserSession, _digest(token))
    if row is None or row.user_id != user.id or row.ended_at is not None:
        return None
    now = clock.wall()
    reason = None
    if now >= row.expires_at:
        reason = "expired"
    elif now - row.last_seen_at >= idle_limit(user):
        reason = "idle"
    if reason is not None:
        _write(session, row, ended_at=now, end_reason=reason)
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        _write(session, row, last_seen_at=now)
    return row


def _write(session: Session, row: UserSession, **values: datetime | str) -> None:
    statement = update(UserSession).where(UserSession.id_hash == row.id_hash).values(**values)
    engine = cast(Engine, session.get_bind())  # the app's sessions are bound to its engine
    if engine.dialect.name == "sqlite" and write_intent.get() and session.in_transaction():
        # A request that writes took SQLite's write lock with its first query (core.db): a second
        # connection would wait for this very request until the busy timeout and fail it. The write
        # joins the request's transaction instead (lost if the request does not commit: tried again on
        # the next request, and a session found dead is refused either way).
        session.execute(statement)
    else:
        with engine.begin() as connection:
            connection.execute(statement)
    for name, value in values.items():
        setattr(row, name, value)
    session.expunge(row)  # what the row holds now was written elsewhere; never flush it again


# Set in the transaction that ends a session: whatever keeps a session check for a while (the opening
# hall's polls, bidding.hall_changes) drops it once that transaction commits.
ENDED = "sunbid.session_ended"


def end(session: Session, token: str | None, reason: str) -> None:
    if not token:
        return
    row = session.get(UserSession, _digest(token))
    if row is not None and row.ended_at is None:
        row.ended_at, row.end_reason = clock.wall(), reason
        session.info[ENDED] = True
        session.flush()


def end_all(session: Session, user: User, reason: str, *, keep: str | None = None) -> int:
    """End every live session of ``user`` (password changed, account disabled...), except ``keep``."""
    query = update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    if keep:
        query = query.where(UserSession.id_hash != _digest(keep))
    result = cast(CursorResult[Any], session.execute(query.values(ended_at=clock.wall(), end_reason=reason)))
    session.info[ENDED] = True
    session.flush()
    return result.rowcount or 0


def live_sessions(session: Session, user: User) -> list[UserSession]:
    now = clock.wall()
    rows = session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None), UserSession.expires_at > now)
        .order_by(UserSession.last_seen_at.desc())
    )
    limit = idle_limit(user)
    return [r for r in rows if now - r.last_seen_at < limit]
