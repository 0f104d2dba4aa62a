"""The opening hall's change counter (``tenders.hall_revision``): every change a hall shows bumps it.

Watchers poll the hall with the revision they saw (an ETag). The bump is one ``UPDATE ... SET n = n + 1``
in the caller's transaction: atomic across hosts, seen by watchers exactly when the change it announces
is committed.

What a poll's ETag is made of (the counter, the times that turn the hall's stage, who signed in) is read
in one query and kept in each web process (``facts``), so that "not modified" costs no database read at
all. The copy is good while the shared stamp in Redis (``HALL_CACHE_URL``, by default ``REDIS_URL``) has
not moved, for at most ``KEPT_AT_MOST`` seconds; the stamp moves after the commit of every change
(``touch``, ``forget``), on whichever host made it. Without Redis (embedded mode) the copy is kept
``KEPT_WITHOUT_STAMP`` seconds, and dropped at once in the process that made the change.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar, cast

import redis
from flask import current_app, has_app_context
from sqlalchemy import Table, event, select, update
from sqlalchemy.orm import Session

from accounts import sessions
from bidding.models import HallAttendance, Opening, Tender

log = logging.getLogger(__name__)
_TENDERS = cast(Table, Tender.__table__)
T = TypeVar("T")
KEPT_AT_MOST = 5.0  # seconds: also what no counter announces (a timeline edit) shows within this
KEPT_WITHOUT_STAMP = 0.5  # seconds, where no Redis tells the processes of a change
_CHANGED = "hall.changed"


def touch(session: Session, tender_id: uuid.UUID) -> None:
    """Announce a change of the tender's hall (opening started, a part decrypted, a share released, an
    objection raised or answered, the record closed or confirmed, a pause)."""
    session.execute(
        update(_TENDERS)
        .where(_TENDERS.c.id == tender_id)
        # updated_at is the tender's own edit time: a hall event is not an edit of the tender.
        .values(hall_revision=_TENDERS.c.hall_revision + 1, updated_at=_TENDERS.c.updated_at)
    )
    forget(session, tender_id)


def forget(session: Session, tender_id: uuid.UUID) -> None:
    """After this transaction commits, every process reads the hall's facts again: for changes no
    counter announces to the other watchers (a bidder's sign-in before the deadline, R-B4)."""
    session.info.setdefault(_CHANGED, set()).add(tender_id)


@dataclass(frozen=True)
class OpeningFacts:
    status: str
    decrypt_until: datetime | None


@dataclass(frozen=True)
class Facts:
    """The hall's state a poll's ETag is made of; ``bid_deadline`` and ``paused_at`` as the tender's, and
    ``opening`` as its opening row's, so that ``hall.stage`` decides from these as from the rows."""

    revision: int
    status: str
    bid_deadline: datetime | None
    paused_at: datetime | None
    opening: OpeningFacts | None
    signed_in: frozenset[uuid.UUID]
    read_at: float
    stamp: int | None


_FACTS: dict[uuid.UUID, Facts] = {}
_LOCK = threading.Lock()
_CLIENT: dict[str, redis.Redis] = {}


def _redis() -> redis.Redis | None:
    if not has_app_context():
        return None
    url = current_app.config.get("HALL_CACHE_URL")
    if not url:
        return None
    client = _CLIENT.get(url)
    if client is None:
        client = _CLIENT[url] = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return client


def _key(tender_id: uuid.UUID) -> str:
    return f"sunbid:hall:{tender_id}"


def _stamp(tender_id: uuid.UUID) -> int | None:
    client = _redis()
    if client is None:
        return None
    try:
        return int(client.get(_key(tender_id)) or 0)
    except redis.RedisError:
        log.warning("hall stamps: Redis did not answer; keeping facts %s s", KEPT_WITHOUT_STAMP)
        return None


def facts(session: Session, tender_id: uuid.UUID) -> Facts | None:
    """The hall's facts as this process last read them, or read now; None for no published tender."""
    stamp = _stamp(tender_id)  # before the rows: a change committed meanwhile is read again next time
    now = time.monotonic()
    with _LOCK:
        known = _FACTS.get(tender_id)
    if known is not None and now - known.read_at < KEPT_AT_MOST:
        if stamp is None and known.stamp is None and now - known.read_at < KEPT_WITHOUT_STAMP:
            return known
        if stamp is not None and known.stamp == stamp:
            return known
    row = session.execute(
        select(
            _TENDERS.c.hall_revision,
            _TENDERS.c.status,
            _TENDERS.c.bid_deadline,
            _TENDERS.c.paused_at,
            Opening.status,
            Opening.decrypt_until,
        )
        .select_from(_TENDERS)
        .outerjoin(Opening, Opening.tender_id == _TENDERS.c.id)
        .where(_TENDERS.c.id == tender_id)
    ).one_or_none()
    if row is None or row[1] == "draft":
        return None
    signed_in = frozenset(
        session.scalars(
            select(HallAttendance.organization_id).where(
                HallAttendance.tender_id == tender_id, HallAttendance.signed_in_at.is_not(None)
            )
        )
    )
    made = Facts(
        revision=row[0],
        status=row[1],
        bid_deadline=row[2],
        paused_at=row[3],
        opening=OpeningFacts(row[4], row[5]) if row[4] is not None else None,
        signed_in=signed_in,
        read_at=now,
        stamp=stamp,
    )
    with _LOCK:
        _FACTS[tender_id] = made
    return made


class Memo(Generic[T]):
    """A process's bounded memory of things made once per key (a hall's snapshot, a render), made once
    however many threads ask at the same moment: when a change reaches every watcher's board, the
    watchers' polls arrive together, and one of them builds while the others wait for it."""

    def __init__(self, kept: int) -> None:
        self.kept = kept
        self._items: OrderedDict[tuple, T] = OrderedDict()
        self._building: dict[tuple, threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple) -> T | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple, value: T) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.kept:
                self._items.popitem(last=False)

    def get_or_make(self, key: tuple, make: Callable[[], T]) -> T:
        found = self.get(key)
        if found is not None:
            return found
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        try:
            with building:
                found = self.get(key)
                if found is None:
                    found = make()
                    self.put(key, found)
        finally:
            with self._lock:
                self._building.pop(key, None)
        return found


def shared_get(name: str) -> str | None:
    """A value the web processes share (a rendered board), or None (none, or no Redis)."""
    client = _redis()
    if client is None:
        return None
    try:
        value = client.get(f"sunbid:hall:shared:{name}")
    except redis.RedisError:
        return None
    return value.decode() if isinstance(value, bytes) else None


def shared_put(name: str, value: str, seconds: int = 60) -> None:
    client = _redis()
    if client is None:
        return
    try:
        client.set(f"sunbid:hall:shared:{name}", value.encode(), ex=seconds)
    except redis.RedisError:
        log.warning("hall renders: Redis did not answer; each process renders its own")


# -- sessions ended -------------------------------------------------------------------------------------
# The hall's polls trust a session check for a while (bidding.hall_views, CHECKED_FOR). A session that
# ends (sign-out, a disabled account, a changed password: accounts.sessions) must end there at once too:
# every end moves a platform-wide count, in this process and in Redis, and a check made before the count
# moved no longer stands.

_SESSIONS_KEY = "sunbid:sessions:ended"
_sessions_ended = 0


def sessions_epoch() -> tuple[int, int | None]:
    """The count of session ends seen here and, where Redis is shared, on the whole platform (None:
    Redis did not answer; the caller then trusts nothing it remembers)."""
    client = _redis()
    if client is None:
        return _sessions_ended, 0
    try:
        return _sessions_ended, int(client.get(_SESSIONS_KEY) or 0)
    except redis.RedisError:
        return _sessions_ended, None


def _sessions_ended_now() -> None:
    global _sessions_ended
    with _LOCK:
        _sessions_ended += 1
    client = _redis()
    if client is None:
        return
    try:
        client.incr(_SESSIONS_KEY)
    except redis.RedisError:
        log.warning("ended sessions: Redis did not answer; other processes end them within their check time")


@event.listens_for(Session, "after_commit")
def _announce(session: Session) -> None:
    if session.info.pop(sessions.ENDED, None):
        _sessions_ended_now()
    changed = session.info.pop(_CHANGED, None)
    if not changed:
        return
    with _LOCK:
        for tender_id in changed:
            _FACTS.pop(tender_id, None)
    client = _redis()
    if client is None:
        return
    try:
        with client.pipeline(transaction=False) as pipe:
            for tender_id in changed:
                pipe.incr(_key(tender_id))
            pipe.execute()
    except redis.RedisError:
        log.warning(
            "hall stamps: Redis did not answer; other processes see the change within %s s", KEPT_AT_MOST
        )


@event.listens_for(Session, "after_rollback")
def _nothing_changed(session: Session) -> None:
    session.info.pop(_CHANGED, None)
    session.info.pop(sessions.ENDED, None)
