"""The embedded beat: Celery's beat schedule run inside the web process when there is no broker.

Production runs ``celery -A core.worker beat`` and a worker on Redis. Embedded mode (``make run``, no
``SUNBID_REDIS_URL``) runs tasks eagerly and has no beat, so at a bid deadline nothing would happen by
itself. Here the same schedule (``celery.conf.beat_schedule``, which each package fills) drives the
same tasks, called through Celery (``task.apply``: the AppContextTask wrapper, its own app context and
session, the sandbox clock loaded first) in one daemon thread. Every beat job is idempotent, so a run
twice or late does no harm.

One scheduler per instance folder: the thread starts with the first request a process serves (CLI
commands never start it) and only in the process that holds ``beat.lock`` in the instance folder, so
several gunicorn workers on one embedded instance run the schedule once. If that process dies its lock
goes with it and the next process to serve a request takes over.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from datetime import UTC, datetime
from typing import Any

from celery.schedules import maybe_schedule
from flask import Flask

log = logging.getLogger(__name__)
EXTENSION = "sunbid.embedded_beat"
RETRY_SECONDS = 30.0  # how often a process without the lock tries to take it over


class EmbeddedBeat:
    """Runs the app's beat schedule: each entry when due (at once on start, as celery beat does)."""

    def __init__(self, app: Flask, tick_seconds: float = 1.0) -> None:
        self.app = app
        self.celery = app.extensions["celery"]
        self.tick_seconds = tick_seconds
        self.last_run: dict[str, datetime] = {}
        self.runs: dict[str, int] = {}
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def due(self, now: datetime) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for name, entry in sorted(self.celery.conf.beat_schedule.items()):
            last = self.last_run.get(name)
            if last is None:
                out.append((name, entry))
                continue
            schedule = maybe_schedule(entry["schedule"], app=self.celery)
            if schedule.is_due(last).is_due:
                out.append((name, entry))
        return out

    def tick(self) -> int:
        """Run what is due now; the number of jobs run. A failing job is logged and tried again when
        next due; it never stops the others."""
        ran = 0
        for name, entry in self.due(datetime.now(UTC)):
            self.last_run[name] = datetime.now(UTC)
            task = self.celery.tasks[entry["task"]]
            try:
                result = task.apply(args=entry.get("args", ()), kwargs=entry.get("kwargs", {}))
                if result.failed():
                    log.error("beat job %s failed: %r", name, result.result)
            except Exception:  # a job's failure must not end the schedule
                log.exception("beat job %s failed", name)
            self.runs[name] = self.runs.get(name, 0) + 1
            ran += 1
        return ran

    def run(self) -> None:
        while not self.stop.is_set():
            self.tick()
            self.stop.wait(self.tick_seconds)

    def start(self) -> None:
        self.thread = threading.Thread(target=self.run, name="sunbid-embedded-beat", daemon=True)
        self.thread.start()

    def shutdown(self, timeout: float = 10) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout)


class _Starter:
    """Takes the instance's beat lock (non-blocking) and starts the beat in the process that holds it."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.beat: EmbeddedBeat | None = None
        self.tried_at = -RETRY_SECONDS
        self.guard = threading.Lock()
        self.lock_file: Any = None

    def __call__(self) -> None:
        if self.beat is not None or time.monotonic() - self.tried_at < RETRY_SECONDS:
            return
        with self.guard:
            if self.beat is not None:
                return
            self.tried_at = time.monotonic()
            path = os.path.join(self.app.config["INSTANCE_PATH"], "beat.lock")
            handle = open(path, "a+")  # noqa: SIM115  (held open for the process's life: it is the lock)
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()  # another process of this instance runs the schedule
                return
            self.lock_file = handle
            self.beat = EmbeddedBeat(self.app, float(self.app.config.get("EMBEDDED_BEAT_TICK", 1.0)))
            self.app.extensions[EXTENSION] = self.beat
            self.beat.start()
            log.info("embedded beat started (pid %s)", os.getpid())


def init_app(app: Flask) -> None:
    """Embedded mode only (tasks eager, no broker) and unless turned off (``SUNBID_EMBEDDED_BEAT=0``;
    the tests drive the jobs themselves)."""
    if not (app.config.get("CELERY_EAGER") and app.config.get("EMBEDDED_BEAT", True)):
        return
    starter = _Starter(app)
    app.before_request(starter)
