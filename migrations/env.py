"""Alembic environment: the URL and metadata come from the Flask app that runs the command."""

from __future__ import annotations

import importlib

from alembic import context

from core.app import DOMAIN_PACKAGES
from core.db import Base

config = context.config
app = config.attributes.get("app")
if app is None:  # plain `alembic` invocation
    from core.app import create_app

    app = create_app()

# Import every models module so the metadata is complete.
importlib.import_module("core.models")
for name in DOMAIN_PACKAGES:
    try:
        importlib.import_module(f"{name}.models")
    except ModuleNotFoundError as exc:
        if exc.name not in (name, f"{name}.models"):
            raise

target_metadata = Base.metadata


def run_migrations() -> None:
    with app.app_context():
        engine = app.extensions["sunbid.db"]["engine"]
        with engine.connect() as connection:
            sqlite = connection.dialect.name == "sqlite"
            if sqlite:
                # Batch migrations rebuild a table by copy-and-rename; with foreign keys enforced, dropping
                # a referenced table fails. Off for the migration (it must be set outside a transaction),
                # then every reference is checked before it is switched back on.
                connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=connection.dialect.name == "sqlite",
                compare_type=True,
            )
            with context.begin_transaction():
                context.run_migrations()
            if sqlite:
                raw = connection.connection.driver_connection
                broken = raw.execute("PRAGMA foreign_key_check").fetchall()
                raw.execute("PRAGMA foreign_keys=ON")
                if broken:
                    raise RuntimeError(f"the migration left broken references: {broken[:5]}")


run_migrations()
