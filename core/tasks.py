"""The Celery app, and enqueueing that waits for the commit.

Embedded mode (no ``SUNBID_REDIS_URL``) runs tasks eagerly in-process, after the commit, so ``make run``
needs no broker. Production sends them to Redis for ``celery -A core.worker worker``.
"""

from __future__ import annotations

from typing import Any

from celery import Celery, Task
from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from core import sandbox
from core.db import intent

_PENDING = "sunbid.after_commit"


class AppContextTask(Task):  # type: ignore[misc]  # Celery ships no type information
    """Runs in a fresh app context (its own session) of the caller's app when called eagerly
    in-process, else of the Flask app that created this Celery app (the worker's).

    Every task reads the platform clock as requests do: in a sandbox the clock's offset is loaded from
    the database first, so a beat job pays refunds, accrues interest and judges lateness at the time
    the sandbox clock says (the same hook requests run in ``core.app``)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        app = current_app._get_current_object() if has_app_context() else self.app.flask_app  # type: ignore[attr-defined]
        # Tasks exist to change things; restore the caller's intent when run eagerly in-process.
        with intent(True), app.app_context():
            sandbox.follow(app)
            return self.run(*args, **kwargs)


def init_celery(app: Flask) -> Celery:
    """One Celery app per Flask app, made the default so ``shared_task``s resolve to it.

    (Celery caches its broker connection pool, so reconfiguring one shared instance would keep
    publishing to the first broker it was given.)
    """
    celery = Celery(app.name, task_cls=AppContextTask)
    celery.flask_app = app
    broker = app.config["REDIS_URL"] or "memory://"
    celery.conf.update(
        broker_url=broker,
        result_backend=None,
        task_ignore_result=True,
        task_always_eager=app.config["CELERY_EAGER"],
        task_eager_propagates=app.config.get("TESTING", False),
        task_acks_late=True,  # a worker killed mid-task leaves the message for another worker
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        timezone="UTC",
        beat_schedule={},  # domain packages add their periodic jobs in init_app
    )
    celery.set_default()
    app.extensions["celery"] = celery
    # Register the tasks a worker must know; domain packages import theirs in their init_app.
    import core.notifications  # noqa: F401

    return celery


def enqueue_after_commit(session: Session, task: Any, *args: Any, **kwargs: Any) -> None:
    """Send ``task`` with ids only once ``session`` commits; dropped if it rolls back."""
    session.info.setdefault(_PENDING, []).append((task, args, kwargs))


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    pending = session.info.pop(_PENDING, [])
    for task, args, kwargs in pending:
        task.delay(*args, **kwargs)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
