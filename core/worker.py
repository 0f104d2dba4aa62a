"""Entry point for ``celery -A core.worker worker`` and ``celery -A core.worker beat``."""

from core.app import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
