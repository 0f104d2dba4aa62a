"""Notifications through an outbox: rows written with the change, delivered by a task after commit."""

from __future__ import annotations

import base64
import smtplib
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any, Protocol

from celery import shared_task
from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core import clock
from core.db import db
from core.keys import ColumnCipher
from core.models import Notification, OutboxMessage
from core.tasks import enqueue_after_commit

MAX_ATTEMPTS = 5


class ChannelError(Exception):
    """A provider could not deliver a message now (it is retried, like an SMTP failure)."""


class Provider(Protocol):
    """Delivers one message of a channel other than e-mail (an SMS gateway, a voice-call service)."""

    def __call__(self, config: dict[str, Any], message: OutboxMessage) -> None: ...


def register_channel(app: Flask, channel: str, provider: Provider) -> None:
    """Deployments register their SMS and voice providers; without one, such messages wait in the
    outbox, as e-mail does without SMTP_HOST."""
    app.extensions.setdefault("sunbid.channels", {})[channel] = provider


def queue(
    session: Session,
    *,
    channel: str,
    to: str,
    subject: str,
    body: str,
    user_id: uuid.UUID | None = None,
    confidential: bool = False,
) -> OutboxMessage:
    """``confidential``: who is written to and what it says are sealed at rest (an expert's call must
    not tell a database reader who was drawn, R-E4); the subject stays readable, so keep it generic."""
    if confidential:
        to, body = _seal(to), _seal(body)
    message = OutboxMessage(channel=channel, recipient=to, subject=subject, body=body, user_id=user_id)
    session.add(message)
    session.flush()
    enqueue_after_commit(session, deliver_message, str(message.id))
    return message


def queue_email(
    session: Session, *, to: str, subject: str, body: str, user_id: uuid.UUID | None = None
) -> OutboxMessage:
    return queue(session, channel="email", to=to, subject=subject, body=body, user_id=user_id)


SEALED = "sealed:"


def _cipher() -> ColumnCipher:
    return ColumnCipher(current_app.config["DATA_KEY"])


def _seal(text: str) -> str:
    return SEALED + base64.b64encode(_cipher().seal("outbox", text.encode())).decode()


def _unseal(text: str) -> str:
    if not text.startswith(SEALED):
        return text
    return str(_cipher().open("outbox", base64.b64decode(text[len(SEALED) :])).decode())


@dataclass(frozen=True)
class Outgoing:
    """A message as a channel sends it: sealed fields opened, only in memory, only while sending."""

    id: uuid.UUID
    channel: str
    recipient: str
    subject: str
    body: str


def readable(message: OutboxMessage) -> Outgoing:
    return Outgoing(
        message.id, message.channel, _unseal(message.recipient), message.subject, _unseal(message.body)
    )


def send_email(config: dict[str, Any], message: Outgoing) -> None:
    email = EmailMessage()
    email["From"] = config["MAIL_FROM"]
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Message-ID"] = make_msgid(domain="sunbid.local")
    email.set_content(message.body, charset="utf-8")
    with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=30) as smtp:
        if config["SMTP_STARTTLS"]:
            smtp.starttls()
        if config["SMTP_USER"]:
            smtp.login(config["SMTP_USER"], config["SMTP_PASSWORD"] or "")
        smtp.send_message(email)


def deliver(session: Session, message_id: uuid.UUID) -> str:
    """Try to send one message; returns its status. Idempotent: a sent message is not sent again."""
    message = session.get(OutboxMessage, message_id, with_for_update=True)
    if message is None or message.status != "pending":
        return message.status if message else "missing"
    config = current_app.config
    if message.channel == "email":
        # Embedded mode: no mail server; the message stays readable in the outbox (admin page).
        send = send_email if config["SMTP_HOST"] else None
    else:
        send = current_app.extensions.get("sunbid.channels", {}).get(message.channel)
    if send is None:
        return message.status
    message.attempts += 1
    try:
        send(config, readable(message))
    except (OSError, smtplib.SMTPException, ChannelError) as exc:
        message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
        if message.attempts >= MAX_ATTEMPTS:
            message.status = "failed"
        return message.status
    message.status = "sent"
    message.sent_at = clock.now()
    message.last_error = None
    return message.status


@shared_task(name="core.deliver_message")  # type: ignore[untyped-decorator]  # Celery ships no types
def deliver_message(message_id: str) -> str:
    session = db.session
    status = deliver(session, uuid.UUID(message_id))
    session.commit()
    return status


@shared_task(name="core.deliver_pending")  # type: ignore[untyped-decorator]  # Celery ships no types
def deliver_pending() -> int:
    """Beat job: retry what is still pending (broker was down, SMTP failed)."""
    session = db.session
    ids = session.scalars(
        select(OutboxMessage.id).where(OutboxMessage.status == "pending").order_by(OutboxMessage.created_at)
    ).all()
    for message_id in ids:
        deliver(session, message_id)
        session.commit()
    return len(ids)


def notify(
    session: Session,
    user: Any,
    subject: str,
    body: str = "",
    link: str | None = None,
    *,
    email: bool = True,
) -> Notification:
    """Tell one user: an in-app notification, and an e-mail copy when the user has an address.

    ``user`` is anything with ``id`` and ``email`` (core does not import the accounts package).
    """
    note = Notification(user_id=user.id, subject=subject[:300], body=body, link=link)
    session.add(note)
    address = getattr(user, "email", None)
    if email and address:
        queue_email(
            session,
            to=address,
            subject=subject[:300],
            body=f"{body}\n\n{link or ''}".strip(),
            user_id=user.id,
        )
    session.flush()
    return note


def unread_count(session: Session, user_id: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        )
        or 0
    )
