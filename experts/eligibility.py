"""Who may be drawn for a tender (R-E3 avoidance, R-E6 agency staff), as a pool snapshot per specialty.

Everything here is a handful of set-returning queries: the pool is matched on specialty, region and
status, then the avoidance sets are subtracted in Python, so the cost grows with the matching pool,
not with the history of employments or leave.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import filterfalse
from typing import Any

from sqlalchemy import String, and_, cast, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from accounts.models import Organization, User
from bidding.models import Bid, Tender
from core.clock import local
from credit.services import debarred_ids
from credit.subjects import Subject
from crypto import selection
from experts import pool
from experts.models import Employment, Expert, ExpertSpecialty, Leave, Specialty

AVOIDANCE_YEARS = 3  # R-E3: worked for a party within 3 years
# An evaluation takes the day: leave that overlaps this span from its start keeps the expert out.
EVALUATION_SPAN = timedelta(hours=12)


def debarred_expert_ids(session: Session, at: datetime) -> set[uuid.UUID]:
    """Experts (profile ids) under a published debarment at ``at`` (R-E3, R-R3): credit records name
    an expert by profile id (experts registers the resolver, see ``subject``)."""

    return debarred_ids(session, "expert", at)


def subject(session: Session, ref: str):
    """credit's resolver for experts: a profile by its id, or by its expert account's user id."""

    try:
        ident = uuid.UUID(str(ref).strip())
    except ValueError:
        return None
    expert = session.get(Expert, ident) or session.scalar(select(Expert).where(Expert.user_id == ident))
    if expert is None:
        return None
    return Subject("expert", expert.id, expert.name, pool.masked_id_number(expert))


@dataclass(frozen=True)
class Criteria:
    specialties: dict[str, int]  # code -> committee seats
    backups: int = 0  # per specialty, called when someone declines
    regions: tuple[str, ...] = ()

    @property
    def wanted(self) -> dict[str, int]:
        return {code: count + self.backups for code, count in self.specialties.items()}


@dataclass
class Snapshot:
    pool: dict[str, list[str]]  # specialty code -> sorted expert ids (32 hex digits)
    # "organization:<reason>" -> sorted credit codes; "expert:<reason>" -> sorted expert hashes
    exclusions: dict[str, list[str]]
    excluded_experts: int
    excluded_organizations: int

    @property
    def counts(self) -> dict[str, int]:
        return {code: len(ids) for code, ids in self.pool.items()}


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def excluded_organizations(session: Session, tender: Tender, supervisor: User) -> dict[str, str]:
    """credit code -> reason: the bidders, the tenderee, the agency (R-E6), the supervising authority."""
    connection = session.connection()
    parties = {tender.tenderee_id: "tenderee", tender.agency_id: "agency"}
    if supervisor.organization_id:
        parties.setdefault(supervisor.organization_id, "authority")
    codes = dict(
        connection.execute(
            select(Organization.id, Organization.credit_code).where(Organization.id.in_(list(parties)))
        ).all()
    )
    reasons = {codes[org]: reason for org, reason in parties.items()}
    bidders = connection.execute(
        select(Organization.credit_code)
        .join(Bid, Bid.organization_id == Organization.id)
        .where(Bid.tender_id == tender.id, Bid.status == "submitted")
        .distinct()
    ).scalars()
    for code in bidders:  # a bidder that is also the tenderee stays "tenderee"
        reasons.setdefault(code, "bidder")
    return reasons


def _hex(column, dialect: str):
    """An id column as 32 lower-case hex digits: how SQLite stores a Uuid already; PostgreSQL's uuid
    type is printed and its dashes dropped. (A pool is tens of thousands of ids: no UUID objects.)"""
    if dialect == "sqlite":
        return type_coerce(column, String)
    return func.replace(cast(column, String), "-", "")


def _aggregated(column, *conditions, join=None):
    """The ids a query selects, aggregated into one string by the database (a scalar subquery)."""
    query = select(func.aggregate_strings(column, ","))
    if join is not None:
        query = query.select_from(join)
    return query.where(*conditions).scalar_subquery()


def _id_lists(connection, queries: dict[str, Any]) -> dict[str, list[str]]:
    """Several id lists in one statement and one row: a draw over a 100,000-expert pool reads tens of
    thousands of ids, and per-row (or per-statement) overhead would dominate."""
    names = list(queries)
    row = connection.execute(select(*(queries[n].label(f"l{k}") for k, n in enumerate(names)))).one()
    return {n: value.split(",") if value else [] for n, value in zip(names, row, strict=True)}


def in_specialty(code: str, dialect: str):
    """The code itself or any code under it. On SQLite (binary collation) a range the index serves;
    elsewhere a prefix match, since a linguistic collation may not order "." and "/" by code point."""
    column = ExpertSpecialty.specialty_code
    if dialect == "sqlite":
        return or_(column == code, and_(column > code + ".", column < code + "/"))  # "/" follows "."
    return or_(column == code, column.startswith(code + ".", autoescape=True))


def snapshot(
    session: Session,
    *,
    draw_id: uuid.UUID,
    tender: Tender,
    supervisor: User,
    criteria: Criteria,
    evaluation_at: datetime,
    already_called: frozenset[str] = frozenset(),
) -> Snapshot:
    """The pool per specialty (expert ids as hex, sorted) and the exclusions with their reasons.

    ``already_called``: experts an earlier draw for the same tender called (a supplementary draw
    must not call them again)."""
    codes = sorted(criteria.specialties)
    # Core execution: these rows are plain values, and the ORM's per-row bookkeeping would dominate.
    connection = session.connection()
    dialect = connection.dialect.name
    # A code with no children in the taxonomy matches by equality (experts can only hold listed codes).
    parents = set(
        connection.execute(
            select(Specialty.parent_code).where(Specialty.parent_code.in_(codes)).distinct()
        ).scalars()
    )
    organizations = excluded_organizations(session, tender, supervisor)
    since = years_before(local(evaluation_at).date(), AVOIDANCE_YEARS)
    queries = {}
    for code in codes:
        conditions = [
            in_specialty(code, dialect) if code in parents else ExpertSpecialty.specialty_code == code
        ]
        join = None
        if criteria.regions:
            join = ExpertSpecialty.__table__.join(Expert.__table__, Expert.id == ExpertSpecialty.expert_id)
            conditions.append(Expert.region.in_(criteria.regions))
        queries[f"pool:{code}"] = _aggregated(
            _hex(ExpertSpecialty.expert_id, dialect), *conditions, join=join
        )
    for status in ("suspended", "retired"):
        queries[status] = _aggregated(_hex(Expert.id, dialect), Expert.status == status)
    queries["avoidance"] = _aggregated(
        _hex(Employment.expert_id, dialect),
        Employment.employer_credit_code.in_(organizations),
        or_(Employment.end_date.is_(None), Employment.end_date >= since),
    )
    queries["on_leave"] = _aggregated(
        _hex(Leave.expert_id, dialect),
        Leave.starts_at < evaluation_at + EVALUATION_SPAN,
        Leave.ends_at > evaluation_at,
    )
    lists = _id_lists(connection, queries)
    members = {code: lists[f"pool:{code}"] for code in codes}
    candidates = set().union(*members.values())
    # Retired experts leave the pool silently; suspended ones are listed among the exclusions.
    suspended, retired = lists["suspended"], lists["retired"]
    avoid, on_leave = lists["avoidance"], lists["on_leave"]
    debarred = [expert_id.hex for expert_id in debarred_expert_ids(session, evaluation_at)]

    candidates.difference_update(retired)
    draw = str(draw_id)
    exclusions: dict[str, list[str]] = {}
    for code, reason in organizations.items():
        exclusions.setdefault(f"organization:{reason}", []).append(code)
    out: set[str] = set(retired)
    for reason, ids in (
        ("avoidance", avoid),
        ("debarred", debarred),
        ("on_leave", on_leave),
        ("suspended", suspended),
        ("already_called", already_called),
    ):
        hit = candidates.intersection(ids)
        if hit:
            exclusions[f"expert:{reason}"] = [selection.expert_hash(draw, e) for e in hit]
            out |= hit
    for items in exclusions.values():
        items.sort()
    # The index hands the ids over sorted, so sorting costs one pass; an expert listed under a code and
    # under one of its children comes twice (codes with children only), and dict.fromkeys keeps one.
    pool = {}
    for code, ids in members.items():
        kept = sorted(filterfalse(out.__contains__, ids))
        pool[code] = list(dict.fromkeys(kept)) if code in parents else kept
    return Snapshot(pool, exclusions, len(out - set(retired)), len(organizations))


def shortfall(snap: Snapshot, criteria: Criteria) -> dict[str, dict[str, int]]:
    """Specialties the pool cannot seat: {code: {"wanted", "eligible", "missing"}}; also the pool as a
    whole when overlapping specialties share the same few experts."""
    short = {}
    for code, count in sorted(criteria.specialties.items()):
        eligible = len(snap.pool[code])
        if eligible < count:
            short[code] = {"wanted": count, "eligible": eligible, "missing": count - eligible}
    total = sum(criteria.specialties.values())
    largest = max(map(len, snap.pool.values()), default=0)
    # Counting distinct experts takes a pass over the whole pool: only when one pool alone is too small.
    distinct = largest if largest >= total else len(set().union(*snap.pool.values()))
    if not short and distinct < total:
        short["*"] = {"wanted": total, "eligible": distinct, "missing": total - distinct}
    return short
