"""Database plumbing: the declarative base, portable column types and a session per app context.

Plain SQLAlchemy 2 rather than Flask-SQLAlchemy: services receive a ``Session`` explicitly, tests and
Celery tasks open their own, and nothing needs the extension's query helpers.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from flask import Flask, current_app, g, has_request_context, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import DateTime, MetaData, Uuid, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from core.errors import NotFound

# Stable constraint names so Alembic migrations are reproducible on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always tz-aware UTC in Python, whatever the database keeps.

    SQLite has no time zones and hands back naive values; comparing those with ``clock.now()``
    would raise, so every timestamp goes through this type.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def new_id() -> uuid.UUID:
    """Random (v4) identifiers: public ids must not be guessable or reveal counts."""
    return uuid.uuid4()


class UuidPK:
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_id)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event issue BEGIN itself (below) instead of pysqlite's implicit one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets readers continue while one writer commits. FULL syncs the log at every commit: with
    # NORMAL an OS crash or power cut could lose the last commits, e.g. bids whose receipts (R-B2)
    # had already been sent. It costs a few milliseconds per commit.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


# Whether the work in this context means to write. On SQLite a deferred transaction that reads and then
# writes fails at once (SQLITE_BUSY) when another connection wrote in between; work that will write
# takes the write lock up front (BEGIN IMMEDIATE) and queues instead. Reads stay concurrent.
write_intent: ContextVar[bool] = ContextVar("sunbid_write_intent", default=False)


@contextmanager
def intent(writes: bool) -> Iterator[None]:
    """Transactions begun inside take SQLite's write lock up front (``writes``) or begin deferred."""
    token = write_intent.set(writes)
    try:
        yield
    finally:
        write_intent.reset(token)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def streams_first(view: Any) -> Any:
    """Mark a view that reads its (large) body before it writes: its request starts without the write
    lock, so a part still arriving is not held up by other writers (and is judged by when its last byte
    arrived, R-B3); the service takes the lock once the body is in (``intent(True)``)."""
    view.sunbid_streams_first = True
    return view


def _intends_to_write() -> bool:
    if request.method in SAFE_METHODS:
        return False
    view = current_app.view_functions.get(request.endpoint or "")
    return not getattr(view, "sunbid_streams_first", False)


def _sqlite_begin_immediate(connection: Any) -> None:
    # Straight to the driver: this runs for every transaction.
    connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


M = TypeVar("M")


def get_row(session: Session, model: type[M], key: Any, **options: Any) -> M:
    """The row ``key`` names where the caller knows it exists (a foreign key points at it): if it does
    not, a clear NotFound, never an AttributeError on None further down."""
    row = session.get(model, key, **options)
    if row is None:
        raise NotFound(
            _l("Not found."), code="not_found", details={"what": getattr(model, "__tablename__", "")}
        )
    return row


class Database:
    """One engine per app; one session per app context (request, CLI command or task)."""

    def init_app(self, app: Flask) -> None:
        engine = make_engine(app.config["DATABASE_URL"])
        factory = sessionmaker(bind=engine, expire_on_commit=False)
        app.extensions["sunbid.db"] = {"engine": engine, "factory": factory}
        app.teardown_appcontext(self._remove)

    @property
    def engine(self) -> Engine:
        return cast(Engine, current_app.extensions["sunbid.db"]["engine"])

    @property
    def session(self) -> Session:
        session = g.get("_sunbid_session")
        if session is None:
            if has_request_context():
                # Reset at teardown: a worker thread serves many requests in one context.
                g._sunbid_intent = write_intent.set(_intends_to_write())
            session = current_app.extensions["sunbid.db"]["factory"]()
            g._sunbid_session = session
        return cast(Session, session)

    def new_session(self) -> Session:
        """A separate session, e.g. to record a failed attempt after rolling back the request's work."""
        return cast(Session, current_app.extensions["sunbid.db"]["factory"]())

    @staticmethod
    def _remove(_exc: BaseException | None) -> None:
        token = g.pop("_sunbid_intent", None)
        if token is not None:
            write_intent.reset(token)
        session = g.pop("_sunbid_session", None)
        if session is not None:
            # Anything a view did not commit explicitly is discarded: one commit per request.
            session.rollback()
            session.close()


db = Database()


def utcnow() -> datetime:
    return datetime.now(UTC)


# -- whether a transaction has written anything yet ---------------------------------------------------
# A flush leaves nothing in session.new/dirty/deleted, so those cannot tell whether rolling back would
# lose work. These listeners keep the answer in session.info.
WROTE = "sunbid.wrote"


@event.listens_for(Session, "after_flush")
def _note_write(session: Session, _context: Any) -> None:
    session.info[WROTE] = True


@event.listens_for(Session, "after_transaction_end")
def _clear_write(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the outermost transaction ended: committed or rolled back
        session.info.pop(WROTE, None)


def has_written(session: Session) -> bool:
    """True when the session's transaction holds changes, flushed or not."""
    return bool(session.new or session.dirty or session.deleted or session.info.get(WROTE))
