"""Tables the core owns: the notification outbox and platform settings (e.g. the sandbox clock)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from core import clock
from core.db import Base, UtcDateTime, UuidPK


class OutboxMessage(UuidPK, Base):
    """A message to send through a channel (e-mail now; SMS and voice later), kept after sending.

    Written in the same transaction as the change that causes it, so a rolled-back change sends
    nothing and a committed one is never forgotten; a task delivers it after the commit.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
        Index("ix_outbox_messages_status_created", "status", "created_at"),
    )

    channel: Mapped[str] = mapped_column(String(16), default="email")
    recipient: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    user_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class PlatformSetting(Base):
    """Small key/value settings that every process must agree on."""

    __tablename__ = "platform_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now, onupdate=clock.now)


class Notification(UuidPK, Base):
    """An in-app message for one user (the bell in the header); e-mail copies go through the outbox."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_created", "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column()
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
