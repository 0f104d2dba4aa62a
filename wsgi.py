"""WSGI entry point: ``gunicorn wsgi:app`` and ``flask --app wsgi ...``."""

import os

from core.app import create_app

os.umask(0o077)  # everything the platform writes (database, store, keys, spool) is owner-only

app = create_app()
