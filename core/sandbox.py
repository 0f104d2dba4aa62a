"""The sandbox clock, shared by every process through the database. Never active in production."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy.orm import Session

from core import clock
from core.db import db
from core.models import PlatformSetting

KEY = "sandbox_clock_offset"


def load_offset(session: Session) -> None:
    row = session.get(PlatformSetting, KEY)
    clock.set_offset(timedelta(seconds=row.value["seconds"]) if row else timedelta(0))


def follow(app: Flask) -> None:
    """Before each request and each task: in a sandbox, read the clock every process shares."""
    if app.config["SANDBOX"]:
        load_offset(db.session)


def set_now(session: Session, target: datetime) -> timedelta:
    clock.set_offset(timedelta(0))
    offset = target - clock.now()
    row = session.get(PlatformSetting, KEY)
    if row is None:
        row = PlatformSetting(key=KEY, value={})
        session.add(row)
    row.value = {"seconds": offset.total_seconds()}
    session.flush()
    clock.set_offset(offset)
    return offset
