"""E-mail through the outbox: written with the change, sent after commit, kept when SMTP fails."""

import socket
import time

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from core.models import OutboxMessage
from core.notifications import deliver_pending, queue_email


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler protocol
        self.messages.append(envelope)
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def test_mail_goes_out_after_commit_only(app, session, smtp):
    controller, inbox = smtp
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port)
    queue_email(session, to="bidder@example.cn", subject="招标文件已澄清", body="请查看第 2 号澄清。")
    session.rollback()
    assert inbox.messages == []
    queue_email(session, to="bidder@example.cn", subject="招标文件已澄清", body="请查看第 2 号澄清。")
    session.commit()
    assert len(inbox.messages) == 1
    raw = inbox.messages[0].content.decode()
    assert "bidder@example.cn" in raw and "utf-8" in raw.lower()
    session.expire_all()
    row = session.scalars(select(OutboxMessage)).one()
    assert row.status == "sent" and row.sent_at is not None


def test_smtp_down_keeps_message_pending_then_retry_sends(app, session, smtp):
    controller, inbox = smtp
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port())  # nobody listens
    queue_email(session, to="x@example.cn", subject="s", body="b")
    session.commit()
    session.expire_all()  # see what the task wrote
    row = session.scalars(select(OutboxMessage)).one()
    assert row.status == "pending" and row.attempts == 1 and "Error" in row.last_error
    app.config["SMTP_PORT"] = controller.port
    with app.app_context():
        assert deliver_pending() == 1
    assert len(inbox.messages) == 1


def test_embedded_mode_without_smtp_keeps_the_outbox(app, session):
    app.config["SMTP_HOST"] = None
    queue_email(session, to="x@example.cn", subject="s", body="b")
    session.commit()
    assert session.scalars(select(OutboxMessage.status)).one() == "pending"


@pytest.mark.worker
def test_real_worker_delivers_through_redis(tmp_path, config, smtp):
    """PostgreSQL + Redis mode: a separate `celery worker` process sends the mail (issue 2, CI)."""
    import os

    from tests.conftest import PG_URL, REDIS_URL

    if not (PG_URL and REDIS_URL):
        pytest.skip("needs SUNBID_TEST_DATABASE_URL and SUNBID_TEST_REDIS_URL (the CI's second run)")
    controller, inbox = smtp
    env = {
        **os.environ,
        "SUNBID_DATABASE_URL": PG_URL,
        "SUNBID_REDIS_URL": REDIS_URL,
        "SUNBID_INSTANCE_PATH": config["INSTANCE_PATH"],
        "SUNBID_SECRET_KEY": "test-secret",
        "SUNBID_SMTP_HOST": "127.0.0.1",
        "SUNBID_SMTP_PORT": str(controller.port),
    }
    from tests.servers import celery_worker

    with celery_worker(env):
        from core.app import create_app

        app = create_app(
            {
                **config,
                "REDIS_URL": REDIS_URL,
                "CELERY_EAGER": False,
                "SMTP_HOST": "127.0.0.1",
                "SMTP_PORT": controller.port,
            }
        )
        with app.app_context():
            from core.db import db

            queue_email(db.session, to="worker@example.cn", subject="开标提醒", body="明天 9:30 开标")
            db.session.commit()
        deadline = time.monotonic() + 60
        while not inbox.messages and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(inbox.messages) == 1, "the worker did not deliver within 60 s"


def test_other_channels_go_through_their_registered_provider_or_wait(app, session):
    """SMS (expert calls) uses a provider the deployment registers; a channel without one waits."""
    from core.notifications import ChannelError, queue, register_channel

    sent = []
    queue(session, channel="pager", to="13800000000", subject="评标邀请", body="请答复")
    session.commit()
    session.expire_all()
    assert session.scalars(select(OutboxMessage)).one().status == "pending"

    def flaky(config, message):
        if not sent:
            sent.append(None)
            raise ChannelError("gateway busy")
        sent.append(message.recipient)

    register_channel(app, "sms", flaky)
    queue(session, channel="sms", to="13900000000", subject="评标邀请", body="请答复")
    session.commit()
    assert deliver_pending() >= 1
    session.expire_all()
    sms = session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "sms")).one()
    assert sms.status == "sent" and sent == [None, "13900000000"] and sms.attempts == 2
