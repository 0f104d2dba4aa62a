"""A tender's lifecycle: where it stands, decided here and nowhere else (ARCHITECTURE "Tender lifecycle").

The phase follows from the tender's timeline, the clock and its records, never from a job:

``draft``        not published;
``announced``    published, the documents not yet available;
``bidding``      documents out, bids accepted until the deadline (R-B3);
``paused``       an objection to the documents waits for its answer (R-T4);
``opening``      the deadline has passed: the opening runs (R-T5) until its record is signed;
``failed``       流标: fewer than 3 bids at the deadline (R-B5), or the tender was failed;
``evaluating``   the opening record is signed: draws, the committee, the report;
``publicity``    the candidates are published (R-A1) and the tenderee has not decided yet;
``awarded``      the award notice is out (R-A2, R-A3); the contract is due;
``contracted``   the contract is recorded;
``archived``     the records are archived (R-R2), when an archive says so;
``cancelled``    withdrawn by the agency.

Packages further down the import chain (evaluation, archives) know the later records; they register
a *stage resolver* (``register_resolver``) that names the phase their records put tenders in, and the
latest phase wins. The deadline test itself is ``deadline_passed``: every service that asks "is the
bid deadline behind us?" asks it here.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from bidding.models import Opening, Tender
from core import clock


class TenderStatus(StrEnum):
    """The stored status of a tender (``tenders.status``); the phase is derived from it and the rest."""

    DRAFT = "draft"
    PUBLISHED = "published"
    FAILED = "failed"
    CANCELLED = "cancelled"


class OpeningStatus(StrEnum):
    FAILED = "failed"
    DECRYPTING = "decrypting"
    CLOSED = "closed"


class Phase(StrEnum):
    DRAFT = "draft"
    ANNOUNCED = "announced"
    BIDDING = "bidding"
    PAUSED = "paused"
    OPENING = "opening"
    FAILED = "failed"
    EVALUATING = "evaluating"
    PUBLICITY = "publicity"
    AWARDED = "awarded"
    CONTRACTED = "contracted"
    ARCHIVED = "archived"
    CANCELLED = "cancelled"


# The order a tender goes through; a resolver can only move a tender forward in it.
ORDER = tuple(Phase)
RANK = {p: n for n, p in enumerate(ORDER)}
AFTER_DEADLINE = frozenset(ORDER[RANK[Phase.OPENING] :]) - {Phase.CANCELLED}

Resolver = Callable[[Session, Sequence[uuid.UUID]], dict[uuid.UUID, Phase]]


def register_resolver(app, resolver: Resolver) -> None:
    """``resolver(session, tender_ids)`` names the phase its package's records put some of the tenders
    in (those it knows nothing about are left out)."""
    app.extensions.setdefault("sunbid.lifecycle", []).append(resolver)


def _resolvers() -> list[Resolver]:
    return current_app.extensions.get("sunbid.lifecycle", []) if has_app_context() else []


class Timed(Protocol):
    """A tender, or what a process keeps of one (bidding.hall_changes.Facts)."""

    @property
    def bid_deadline(self) -> datetime | None: ...


def deadline_passed(tender: Timed, now: datetime | None = None) -> bool:
    """The bid deadline is behind us (R-B3: a bid is on time only if complete before it)."""
    return tender.bid_deadline is not None and (now or clock.now()) >= tender.bid_deadline


def _from_timeline(tender: Tender, opening: Opening | None, now: datetime) -> Phase:
    if tender.status != TenderStatus.PUBLISHED:
        return Phase(tender.status)
    if now < tender.time_of("documents_from"):
        return Phase.ANNOUNCED
    if not deadline_passed(tender, now):
        return Phase.PAUSED if tender.paused_at is not None else Phase.BIDDING
    if opening is None or opening.status == OpeningStatus.DECRYPTING:
        return Phase.OPENING
    if opening.status == OpeningStatus.FAILED:
        return Phase.FAILED
    return Phase.EVALUATING


def phases(
    session: Session, tenders: Iterable[Tender], now: datetime | None = None
) -> dict[uuid.UUID, Phase]:
    """The phase of each tender, with one query per kind of record (for lists and dashboards)."""
    now = now or clock.now()
    tenders = list(tenders)
    ids = [t.id for t in tenders]
    openings = (
        {o.tender_id: o for o in session.scalars(select(Opening).where(Opening.tender_id.in_(ids)))}
        if ids
        else {}
    )
    result = {t.id: _from_timeline(t, openings.get(t.id), now) for t in tenders}
    later = [t.id for t in tenders if result[t.id] == Phase.EVALUATING]
    if later:
        for resolver in _resolvers():
            for tender_id, phase_ in resolver(session, later).items():
                if RANK[phase_] > RANK[result[tender_id]]:
                    result[tender_id] = phase_
    return result


def phase(tender: Tender, now: datetime | None = None, session: Session | None = None) -> Phase:
    """Where ``tender`` stands now (its own session is used when none is given)."""
    session = session or object_session(tender)
    if session is None:  # a tender not (yet) in a session has no records to consult
        return _from_timeline(tender, None, now or clock.now())
    return phases(session, [tender], now)[tender.id]
