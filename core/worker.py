"""Entry point for ``celery -A core.worker worker`` and ``celery -A core.worker beat``."""

import os

from core.app import create_app

os.umask(0o077)  # everything the platform writes (database, store, keys, spool) is owner-only

flask_app = create_app()
celery = flask_app.extensions["celery"]
