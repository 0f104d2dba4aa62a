"""The migrations build exactly the models' schema, and every one of them can be undone."""

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from core.app import create_app
from core.cli import alembic_config
from core.db import Base
from tests.conftest import base_config


def test_migrations_match_the_models_and_downgrade_cleanly(tmp_path):
    app = create_app(base_config(tmp_path / "instance", f"sqlite:///{tmp_path / 'm.db'}"))
    with app.app_context():
        config = alembic_config()
        command.upgrade(config, "head")
        engine = app.extensions["sunbid.db"]["engine"]
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == [], diff
        command.downgrade(config, "base")
        command.upgrade(config, "head")
        engine.dispose()
