"""Filtering the log for the supervisor's page and the API."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, select

from audit import seals
from audit.models import AuditEntry
from core.clock import SHANGHAI
from core.errors import Invalid


def parse_time(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise Invalid(
            _l("Times are ISO 8601, e.g. 2026-11-22T09:00:00+08:00."),
            code="invalid_time",
            details={"field": field},
        ) from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=SHANGHAI)  # people type local times
    return parsed


def entries_query(
    *,
    actor_id=None,
    actor_ids=None,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    target_ids=None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select:
    """Entries matching the filters, newest first; sealed entries only once revealed (audit.seals)."""
    query = select(AuditEntry).where(seals.readable_condition()).order_by(AuditEntry.index.desc())
    if actor_id:
        query = query.where(AuditEntry.actor_id == actor_id)
    if actor_ids is not None:
        query = query.where(AuditEntry.actor_id.in_(actor_ids))
    if action:
        # A prefix such as "accounts." selects a whole domain.
        query = query.where(AuditEntry.action.startswith(action, autoescape=True))
    if target_type:
        query = query.where(AuditEntry.target_type == target_type)
    if target_id:
        query = query.where(AuditEntry.target_id == target_id)
    if target_ids is not None:
        query = query.where(AuditEntry.target_id.in_([str(t) for t in target_ids]))
    if since:
        query = query.where(AuditEntry.created_at >= since)
    if until:
        query = query.where(AuditEntry.created_at < until)
    return query
