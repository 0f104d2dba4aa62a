"""The platform clock. All code reads time here, never from ``datetime.now()``.

Tests freeze it; in sandbox deployments an admin may move it (stored as an offset in the database so
every web worker and Celery worker agrees). Production reads the system clock, which the deployment
keeps in sync with the national time service.

Two readings: ``now()`` is the platform's time, which drives the tender rules and which the sandbox
moves; ``real_now()`` is the time outside the platform, which the sandbox never moves: what a phone's
authenticator app counts its codes from, and what credentials expire by (a sandbox clock jump must not
refuse every code from a phone, nor void every API token).
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")

_state = threading.local()
_frozen: datetime | None = None
_offset = timedelta(0)


def now() -> datetime:
    """Current platform time, tz-aware UTC."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC) + _offset


def wall() -> datetime:
    """The machine's own time, untouched by the sandbox offset and by a test's frozen clock: for limits
    that measure how long a person has been away (sessions, sign-in throttles). A test that moves the
    platform clock days ahead is not a person who stayed away for days."""
    return datetime.now(UTC)


def real_now() -> datetime:
    """Wall-clock time, whatever the sandbox offset: for security limits (sessions, sign-in throttles)
    that nobody may move, and for second-factor codes, which phones compute from real time."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC)


def at_real(moment: datetime) -> datetime:
    """The platform time at the real (wall-clock) ``moment``: a frozen clock stays where it is, a
    sandbox clock keeps its offset."""
    if _frozen is not None:
        return _frozen
    return moment + _offset


def freeze(at: datetime | None) -> None:
    """Stop the clock at ``at`` (tests); ``None`` lets it run again."""
    global _frozen
    if at is not None and at.tzinfo is None:
        raise ValueError("freeze() needs a tz-aware datetime")
    _frozen = at.astimezone(UTC) if at else None


def advance(delta: timedelta) -> datetime:
    """Move a frozen clock forward (tests)."""
    global _frozen
    if _frozen is None:
        raise RuntimeError("advance() needs a frozen clock")
    _frozen = _frozen + delta
    return _frozen


def set_offset(offset: timedelta) -> None:
    """Sandbox only: shift the running clock; loaded from the database by each request and task."""
    global _offset
    _offset = offset


def local(dt: datetime) -> datetime:
    """The time as people in China read it."""
    return dt.astimezone(SHANGHAI)
