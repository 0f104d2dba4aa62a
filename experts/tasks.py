"""Celery jobs of the expert package (tasks take ids or nothing, open their own session, commit once)."""

from __future__ import annotations

from celery import shared_task

from core.db import db
from experts import calls


@shared_task(name="experts.expire_calls")
def expire_calls() -> int:
    """Beat job: calls past their deadline move on to the next drawn expert. Idempotent."""

    session = db.session
    count = calls.expire_due(session)
    session.commit()
    return count
