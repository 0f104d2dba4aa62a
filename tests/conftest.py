"""Fixtures: an app on a fresh database per test, a frozen clock, and people in every role.

SQLite (default): the schema is migrated once into a template file that each test copies.
PostgreSQL (``SUNBID_TEST_DATABASE_URL``): migrated once; each test starts from truncated tables.
Both run the real Alembic migrations, so the tests also prove the migrations.
"""

from __future__ import annotations

import contextvars
import os
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from core import clock
from core.app import create_app

FROZEN_AT = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing
PG_URL = os.environ.get("SUNBID_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("SUNBID_TEST_REDIS_URL")

# Fast hashing in tests only: the production parameters are argon2-cffi's defaults.
FAST_HASH = {"time_cost": 1, "memory_cost": 1024, "parallelism": 1}


def base_config(instance: Path, database_url: str) -> dict:
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(instance),
        "STORAGE_PATH": str(instance / "storage"),
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "WTF_CSRF_ENABLED": False,
        "PASSWORD_HASH_PARAMS": FAST_HASH,
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": "memory://",
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "REDIS_URL": None,
        "CELERY_EAGER": True,
        "EMBEDDED_BEAT": False,  # tests run the beat jobs themselves (tests/bidding/test_hall.py starts one)
    }


def migrate(config: dict) -> None:
    app = create_app(config)
    with app.app_context():
        from alembic import command

        from core.cli import alembic_config

        command.upgrade(alembic_config(), "head")
        app.extensions["sunbid.db"]["engine"].dispose()


def pytest_configure(config):
    """Compile the message catalogues, so the tests always see the .po files as they are."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    for po in (Path(__file__).resolve().parent.parent / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            with po.open("rb") as src, mo.open("wb") as out:
                write_mo(out, read_po(src))


@pytest.fixture(scope="session")
def template_db(tmp_path_factory) -> str:
    if PG_URL:
        migrate(base_config(tmp_path_factory.mktemp("migrate"), PG_URL))
        return PG_URL
    folder = tmp_path_factory.mktemp("template")
    path = folder / "template.db"
    migrate(base_config(folder, f"sqlite:///{path}"))
    return str(path)


def _truncate(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = (
            conn.execute(
                text(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                    "AND tablename <> 'alembic_version'"
                )
            )
            .scalars()
            .all()
        )
        conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
        for table in ("audit_entries", "audit_nodes", "audit_checkpoints"):  # tamper tests disable them
            conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER ALL"))
        conn.execute(
            text("INSERT INTO audit_head (id, size, frontier, history_size) VALUES (1, 0, :f, 0)"), {"f": b""}
        )
    engine.dispose()


@pytest.fixture
def database_url(template_db, tmp_path) -> str:
    if PG_URL:
        _truncate(PG_URL)
        return PG_URL
    target = tmp_path / "sunbid.db"
    shutil.copyfile(template_db, target)
    return f"sqlite:///{target}"


@pytest.fixture(autouse=True)
def frozen_clock():
    clock.freeze(FROZEN_AT)
    yield FROZEN_AT
    clock.freeze(None)
    clock.set_offset(__import__("datetime").timedelta(0))


@pytest.fixture
def wall(monkeypatch):
    """Real (wall-clock) time under the test's control: sessions and sign-in throttles run on it, not on
    the platform clock. Call the fixture's value with a timedelta to move it."""
    moment = {"now": clock.wall()}
    monkeypatch.setattr(clock, "wall", lambda: moment["now"])

    def advance(delta):
        moment["now"] += delta

    return advance


@pytest.fixture(scope="session")
def witness_server(tmp_path_factory):
    """The audit log's witness (audit.witness, the real service) on a loopback port for the whole run;
    each test's log registers with it under its own origin (``app`` below). tests/audit/test_witness.py
    also runs it as its own process."""
    from audit.witness import Witness, server

    witness = Witness.init(tmp_path_factory.mktemp("witness"), "witness.test/sunbid")
    httpd = server(witness, "127.0.0.1", 0)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield witness, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def config(tmp_path, database_url, witness_server) -> dict:
    witness, url = witness_server
    return {
        **base_config(tmp_path / "instance", database_url),
        # A log of its own per test: the witness remembers every log it cosigned.
        "AUDIT_ORIGIN": f"sunbid.test/{os.urandom(6).hex()}",
        "WITNESS_URL": url,
        "WITNESS_KEY": witness.verifier_key(),
    }


class IsolatedClient(FlaskClient):
    """Each request runs in a fresh context, as on a real server: it gets its own app context, ``g``
    and database session instead of sharing the test's."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def app(config, witness_server):
    app = create_app(config)
    app.test_client_class = IsolatedClient
    if config.get("WITNESS_URL") == witness_server[1]:
        with app.app_context():
            from audit import log

            witness_server[0].add_log(config["AUDIT_ORIGIN"], log.verifier().key_string())
    yield app
    app.extensions["sunbid.db"]["engine"].dispose()


@pytest.fixture
def session(app):
    with app.app_context():
        from core.db import db

        yield db.session


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def people(app, session):
    from tests.factories import People

    return People(app, session)


# -- browser tests: a real server on a loopback port, driven by Debian's Chromium through Playwright --

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser():
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (Debian package chromium): browser tests skipped")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            # This machine's network is closed: keep Chromium from calling home.
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--disable-quic",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(base_url=live_server, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


@pytest.fixture
def fsynced(monkeypatch) -> list[str]:
    """The paths os.fsync was called on during the test, in order (the real fsync still runs)."""
    paths: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return paths
