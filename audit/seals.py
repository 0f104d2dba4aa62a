"""Sealed entries: who may read them, and from when (commit now, reveal later).

An entry that would tell who bid before the deadline (R-B4) or who evaluates before the result (R-E4)
is appended with ``record(..., sealed=scope)``: its leaf commits to the content without showing it,
so it is in the signed tree from the start and cannot be altered or dropped later. The content
becomes readable when its scope is revealed: a scope's ``reveal_at`` is set by the domain that owns
it (the tender's bid deadline, moved with the deadline; a draw's names, when the result is known).
Before that only the entry's own actor and organisation may read it (a bidder checking its receipt).

The audit package knows no domain: scopes are plain strings, e.g. ``tender:<id>`` or ``committee:<id>``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from audit.models import AuditEntry, AuditSealScope
from core import clock


def tender_scope(tender_id: Any) -> str:
    return f"tender:{tender_id}"


def committee_scope(tender_id: Any) -> str:
    """Everything that names a tender's evaluation committee (R-E4), revealed with the draws."""
    return f"committee:{tender_id}"


def set_reveal(session: Session, scope: str, reveal_at: datetime | None) -> None:
    """Make the scope's entries readable from ``reveal_at`` (None: not yet known). A scope already
    revealed stays revealed: what was shown cannot be unshown."""
    row = session.get(AuditSealScope, scope)
    now = clock.now()
    if row is None:
        session.add(AuditSealScope(scope=scope, reveal_at=reveal_at))
    elif row.reveal_at is None or row.reveal_at > now:
        row.reveal_at = reveal_at
    session.flush()


def revealed_scopes(now: datetime):
    return select(AuditSealScope.scope).where(AuditSealScope.reveal_at <= now)


def readable_condition(now: datetime | None = None) -> ColumnElement[bool]:
    """SQL condition: the entry is not sealed, or its scope is revealed."""
    revealed = revealed_scopes(now or clock.now())
    return or_(AuditEntry.seal_scope.is_(None), AuditEntry.seal_scope.in_(revealed))


def is_revealed(session: Session, scope: str, now: datetime | None = None) -> bool:
    row = session.get(AuditSealScope, scope)
    return row is not None and row.reveal_at is not None and row.reveal_at <= (now or clock.now())


def is_own(entry: AuditEntry, viewer: Any) -> bool:
    """The entry describes something ``viewer`` (or the viewer's organisation) did."""
    if viewer is None:
        return False
    content = json.loads(entry.sealed if entry.sealed is not None else entry.leaf)
    org = getattr(viewer, "organization_id", None)
    return content.get("actor") == str(viewer.id) or (org is not None and content.get("org") == str(org))


def may_read(session: Session, entry: AuditEntry, viewer: Any) -> bool:
    """Anyone who may read the log reads an unsealed or revealed entry; before its time a sealed one
    is for its own actor and the actor's organisation only."""
    if entry.seal_scope is None or is_revealed(session, entry.seal_scope):
        return True
    return is_own(entry, viewer)
