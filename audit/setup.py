"""Wiring of the audit package into the app."""

from __future__ import annotations

from flask import Flask

from audit import api, cli, labels, tasks, views  # noqa: F401  (labels registers words)


def init_app(app: Flask) -> None:
    app.extensions["celery"].conf.beat_schedule["audit-keep-checkpoint"] = {
        "task": tasks.keep_checkpoint.name,
        "schedule": 60.0,
    }

    app.register_blueprint(views.bp)
    app.register_blueprint(api.bp)
    app.cli.add_command(cli.audit_cli)
    app.cli.add_command(cli.archive_cli)
