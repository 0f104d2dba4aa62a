"""Who may be drawn for a tender (R-E3 avoidance, R-E6 agency staff), as a pool snapshot per specialty.

Everything here is a handful of set-returning queries: the pool is matched on specialty, region and
status, then the avoidance sets are subtracted in Python, so the cost grows with the matching pool,
not with the history of employments or leave.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from accounts.models import Organization, User
from bidding.models import Bid, Tender
from core.clock import local
from crypto import selection
from experts.models import Employment, Expert, ExpertSpecialty, Leave

AVOIDANCE_YEARS = 3  # R-E3: worked for a party within 3 years
# An evaluation takes the day: leave that overlaps this span from its start keeps the expert out.
EVALUATION_SPAN = timedelta(hours=12)


def debarred_expert_ids(session: Session, at: datetime) -> set[uuid.UUID]:
    """Experts under a penalty for tendering misconduct at ``at`` (R-E3, R-R3).

    Wired to credit at merge: debarments live in credit/, built in parallel.
    """
    return set()


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
    pool: dict[str, list[str]]  # specialty code -> sorted expert ids (strings)
    exclusions: list[dict]
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
    parties: list[tuple[uuid.UUID, str]] = [(tender.tenderee_id, "tenderee"), (tender.agency_id, "agency")]
    if supervisor.organization_id:
        parties.append((supervisor.organization_id, "authority"))
    bidders = session.scalars(
        select(Bid.organization_id).where(Bid.tender_id == tender.id, Bid.status == "submitted").distinct()
    )
    parties += [(org, "bidder") for org in bidders]
    codes = dict(
        session.execute(
            select(Organization.id, Organization.credit_code).where(
                Organization.id.in_({org for org, _ in parties})
            )
        ).all()
    )
    reasons: dict[str, str] = {}
    for org, reason in parties:  # a bidder that is also the tenderee stays "tenderee": the first reason wins
        reasons.setdefault(codes[org], reason)
    return reasons


def snapshot(
    session: Session,
    *,
    draw_id: uuid.UUID,
    tender: Tender,
    supervisor: User,
    criteria: Criteria,
    evaluation_at: datetime,
) -> Snapshot:
    codes = sorted(criteria.specialties)
    matches = or_(
        *(
            or_(ExpertSpecialty.specialty_code == code, ExpertSpecialty.specialty_code.like(code + ".%"))
            for code in codes
        )
    )
    query = (
        select(ExpertSpecialty.expert_id, ExpertSpecialty.specialty_code, Expert.status)
        .join(Expert, Expert.id == ExpertSpecialty.expert_id)
        .where(matches, Expert.status != "retired")
    )
    if criteria.regions:
        query = query.where(Expert.region.in_(criteria.regions))
    members: dict[str, set[uuid.UUID]] = {code: set() for code in codes}
    suspended: set[uuid.UUID] = set()
    for expert_id, code, status in session.execute(query):
        for wanted in codes:
            if code == wanted or code.startswith(wanted + "."):
                members[wanted].add(expert_id)
        if status == "suspended":
            suspended.add(expert_id)
    candidates = set().union(*members.values())

    organizations = excluded_organizations(session, tender, supervisor)
    since = years_before(local(evaluation_at).date(), AVOIDANCE_YEARS)
    avoid = set(
        session.scalars(
            select(Employment.expert_id).where(
                Employment.employer_credit_code.in_(organizations),
                or_(Employment.end_date.is_(None), Employment.end_date >= since),
            )
        )
    )
    on_leave = set(
        session.scalars(
            select(Leave.expert_id).where(
                Leave.starts_at < evaluation_at + EVALUATION_SPAN, Leave.ends_at > evaluation_at
            )
        )
    )
    debarred = debarred_expert_ids(session, evaluation_at)

    reasons: dict[uuid.UUID, list[str]] = {}
    for reason, ids in (
        ("avoidance", avoid),
        ("debarred", debarred),
        ("on_leave", on_leave),
        ("suspended", suspended),
    ):
        for expert_id in ids & candidates:
            reasons.setdefault(expert_id, []).append(reason)
    draw = str(draw_id)
    exclusions = [
        {"kind": "organization", "credit_code": code, "reason": reason}
        for code, reason in organizations.items()
    ] + [
        {"kind": "expert", "expert_hash": selection.expert_hash(draw, str(expert_id)), "reasons": sorted(why)}
        for expert_id, why in reasons.items()
    ]
    pool = {code: sorted(str(e) for e in ids if e not in reasons) for code, ids in members.items()}
    return Snapshot(pool, selection.sorted_exclusions(exclusions), len(organizations))


def shortfall(snap: Snapshot, criteria: Criteria) -> dict[str, dict[str, int]]:
    """Specialties the pool cannot seat: {code: {"wanted", "eligible", "missing"}}; also the pool as a
    whole when overlapping specialties share the same few experts."""
    short = {}
    for code, count in sorted(criteria.specialties.items()):
        eligible = len(snap.pool[code])
        if eligible < count:
            short[code] = {"wanted": count, "eligible": eligible, "missing": count - eligible}
    distinct = len(set().union(*map(set, snap.pool.values()))) if snap.pool else 0
    total = sum(criteria.specialties.values())
    if not short and distinct < total:
        short["*"] = {"wanted": total, "eligible": distinct, "missing": total - distinct}
    return short
