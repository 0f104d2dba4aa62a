"""Conduct records a supervisor has drafted and not yet published or discarded (core.todo): a penalty
takes effect only once it is public (R-R3)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import User
from core.todo import Todo
from credit.models import ConductRecord


def supervisor(session: Session, user: User, now: datetime) -> Iterator[Todo]:
    drafts = session.scalars(
        select(ConductRecord)
        .where(ConductRecord.recorded_by_id == user.id, ConductRecord.status == "draft")
        .order_by(ConductRecord.created_at)
    )
    for record in drafts:
        yield Todo(
            _("Publish the drafted conduct record"),
            url_for("credit.record", record_id=record.id),
            record.subject_name,
            None,
            "R-R3",
        )
