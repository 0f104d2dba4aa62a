"""Recording, publishing and revoking conduct records; who is debarred; record-based penalty points.

R-R3: penalties and debarments are public (条例78); a debarment lasts 1-2 years for collusion and
1-3 years for fraud (条例67-68); debarred parties cannot bid or be drawn. Bidding and experts ask here.

A debarment covers Beijing calendar days, first and last day included. Whether a party is debarred is
answered *as of* a moment: only records already published then, and not yet revoked then, count, so a
draw or a refusal can be re-checked later with the answer it had at the time.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import IO, Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session

import audit
from accounts.models import User
from core import clock, filenames
from core.bodies import LARGEST_FILE
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.present import when
from core.roles import Role
from core.storage import FileStore
from credit import subjects
from credit.models import CATEGORIES, SUBJECT_KINDS, ConductRecord


@dataclass(frozen=True)
class Category:
    label: Any
    kinds: tuple[str, ...]  # whom it can be recorded against
    years: tuple[int, int] | None  # R-R3 bounds of a debarment, in years; None: the law sets none
    points: int  # penalty points while the record counts (see conduct_penalty_points)
    basis: str  # where the law says it


CATEGORY = {
    "collusion": Category(_l("Collusion (串通投标)"), ("tenderer", "agency"), (1, 2), 30, "法53, 条例67"),
    # The law puts bribery to win a bid in the same article as collusion, with the same 1-2 years.
    "bribery": Category(_l("Bribery (行贿谋取中标)"), ("tenderer",), (1, 2), 30, "法53, 条例67"),
    "fraud": Category(
        _l("Bidding in another's name or with false documents (弄虚作假)"),
        ("tenderer",),
        (1, 3),
        20,
        "法54, 条例68",
    ),
    "expert_misconduct": Category(
        _l("Expert misconduct in evaluation (评标专家违规)"), ("expert",), None, 15, "法56, 条例72"
    ),
    "agency_misconduct": Category(
        _l("Agency misconduct (代理机构违规)"), ("agency",), None, 15, "法50, 条例65"
    ),
    "other": Category(_l("Other misconduct (其他不良行为)"), SUBJECT_KINDS, None, 5, ""),
}
assert tuple(CATEGORY) == CATEGORIES

SUBJECT_LABELS = {
    "tenderer": _l("Tenderer"),
    "agency": _l("Agency"),
    "expert": _l("Expert"),
}
MAX_EVIDENCE_SIZE = LARGEST_FILE
MAX_FACTS = 10_000
MAX_PENALTY = 2_000
POINTS_YEARS = 3  # records older than this stop counting towards penalty points
DEBARMENT_POINTS = 20  # added while a debarment is in force


def add_years(day: date, years: int) -> date:
    """The same calendar day ``years`` later; 29 February becomes 1 March in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def local_day(at: datetime) -> date:
    return clock.local(at).date()


# -- input ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConductInput:
    subject_kind: str
    subject_ref: str
    category: str
    facts: str
    penalty: str
    tender_code: str | None = None
    debarred_from: date | None = None
    debarred_to: date | None = None


def _date(value: Any, field: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise Invalid(
            _l("Dates are written YYYY-MM-DD."), code="invalid_date", details={"field": field}
        ) from exc


def parse_input(data: Mapping[str, Any]) -> ConductInput:
    """A record's fields from an API body or a form; wrong types and missing fields are named."""
    missing = [f for f in ("subject_kind", "subject", "category", "facts", "penalty") if not data.get(f)]
    if missing:
        raise Invalid(_l("Required fields are missing."), code="missing_fields", details={"fields": missing})
    text = {
        k: data.get(k) for k in ("subject_kind", "subject", "category", "facts", "penalty", "tender_code")
    }
    wrong = [k for k, v in text.items() if v is not None and not isinstance(v, str)]
    if wrong:
        raise Invalid(_l("These fields must be text."), code="invalid_fields", details={"fields": wrong})
    return ConductInput(
        subject_kind=str(text["subject_kind"]).strip(),
        subject_ref=str(text["subject"]).strip(),
        category=str(text["category"]).strip(),
        facts=str(text["facts"]).strip(),
        penalty=str(text["penalty"]).strip(),
        tender_code=(text["tender_code"] or "").strip() or None,
        debarred_from=_date(data.get("debarred_from"), "debarred_from"),
        debarred_to=_date(data.get("debarred_to"), "debarred_to"),
    )


def check_debarment(category: str, first: date | None, last: date | None) -> None:
    """R-R3: a debarment has a first and a last day, and its length is within the category's bounds."""
    if first is None and last is None:
        return
    if first is None or last is None:
        raise Invalid(
            _l("A debarment needs both its first and its last day."),
            code="debarment_incomplete",
            details={"fields": ["debarred_from", "debarred_to"]},
        )
    if last < first:
        raise Invalid(
            _l("A debarment cannot end before it starts."),
            code="debarment_reversed",
            details={"debarred_from": first.isoformat(), "debarred_to": last.isoformat()},
        )
    bounds = CATEGORY[category].years
    if bounds is None:
        return
    low, high = bounds
    end = last + timedelta(days=1)  # the first day no longer debarred
    if not add_years(first, low) <= end <= add_years(first, high):
        raise Invalid(
            _l(
                "For %(category)s a debarment lasts %(low)s to %(high)s years (R-R3): from %(first)s the "
                "last day is between %(min)s and %(max)s.",
                category=CATEGORY[category].label,
                low=low,
                high=high,
                first=first.isoformat(),
                min=(add_years(first, low) - timedelta(days=1)).isoformat(),
                max=(add_years(first, high) - timedelta(days=1)).isoformat(),
            ),
            code="debarment_out_of_bounds",
            details={
                "rule": "R-R3",
                "category": category,
                "min_years": low,
                "max_years": high,
                "debarred_from": first.isoformat(),
                "debarred_to": last.isoformat(),
                "earliest_last_day": (add_years(first, low) - timedelta(days=1)).isoformat(),
                "latest_last_day": (add_years(first, high) - timedelta(days=1)).isoformat(),
            },
        )


def _supervisor(actor: User) -> None:
    if actor.role != Role.SUPERVISOR:
        raise Forbidden(_l("Only supervisors record conduct."), code="role_forbidden")


# -- the record's life: draft, published, revoked ---------------------------------------------------


def record_conduct(
    session: Session,
    actor: User,
    data: ConductInput,
    *,
    evidence: tuple[str, IO[bytes]] | None = None,
    store: FileStore | None = None,
    ip: str | None = None,
) -> ConductRecord:
    """A draft record, with the subject's name and identifier as they are now; evidence goes to the store."""
    _supervisor(actor)
    if data.subject_kind not in SUBJECT_KINDS:
        raise Invalid(
            _l("The subject is a tenderer, an agency or an expert."),
            code="invalid_subject_kind",
            details={"allowed": list(SUBJECT_KINDS)},
        )
    if data.category not in CATEGORY:
        raise Invalid(_l("Unknown category."), code="invalid_category", details={"allowed": list(CATEGORIES)})
    if data.subject_kind not in CATEGORY[data.category].kinds:
        raise Invalid(
            _l("This category cannot be recorded against this kind of subject."),
            code="category_not_for_subject",
            details={"category": data.category, "allowed_kinds": list(CATEGORY[data.category].kinds)},
        )
    too_long = [
        name
        for name, value, limit in (
            ("facts", data.facts, MAX_FACTS),
            ("penalty", data.penalty, MAX_PENALTY),
            ("tender_code", data.tender_code or "", 64),
        )
        if len(value) > limit
    ]
    if too_long:
        raise Invalid(_l("Some fields are too long."), code="fields_too_long", details={"fields": too_long})
    if not data.facts or not data.penalty:
        raise Invalid(
            _l("Required fields are missing."),
            code="missing_fields",
            details={"fields": ["facts", "penalty"]},
        )
    check_debarment(data.category, data.debarred_from, data.debarred_to)
    subject = subjects.resolve(session, data.subject_kind, data.subject_ref)
    if subject is None:
        raise Invalid(
            _l("No such %(kind)s.", kind=SUBJECT_LABELS[data.subject_kind]),
            code="subject_not_found",
            details={"subject_kind": data.subject_kind, "subject": data.subject_ref},
        )
    record = ConductRecord(
        subject_kind=subject.kind,
        subject_id=subject.id,
        subject_name=subject.name[:200],
        subject_identifier=subject.identifier[:32],
        category=data.category,
        facts=data.facts,
        penalty=data.penalty,
        tender_code=data.tender_code,
        debarred_from=data.debarred_from,
        debarred_to=data.debarred_to,
        status="draft",
        recorded_by_id=actor.id,
        created_at=clock.now(),
    )
    if evidence is not None:
        if store is None:
            raise ValueError("evidence needs the file store")
        name, stream = evidence
        stored = store.put_stream(stream, max_size=MAX_EVIDENCE_SIZE)
        if stored.size == 0:
            raise Invalid(_l("The evidence file is empty."), code="evidence_empty")
        record.evidence_sha256, record.evidence_size = stored.sha256, stored.size
        record.evidence_name = filenames.clean(name) or "evidence"
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor,
        "credit.conduct_recorded",
        record,
        {
            "subject_kind": record.subject_kind,
            "subject": str(record.subject_id),
            "subject_name": record.subject_name,
            "subject_identifier": record.subject_identifier,
            "category": record.category,
            "debarred_from": record.debarred_from.isoformat() if record.debarred_from else None,
            "debarred_to": record.debarred_to.isoformat() if record.debarred_to else None,
            "tender_code": record.tender_code,
            "evidence_sha256": record.evidence_sha256,
        },
        ip,
    )
    return record


def publish(session: Session, actor: User, record: ConductRecord, ip: str | None = None) -> ConductRecord:
    """R-R3: the penalty and any debarment become public, and a debarment starts to count."""
    _supervisor(actor)
    if record.status != "draft":
        raise Conflict(_l("Only a draft can be published."), code="record_not_draft")
    record.status = "published"
    record.published_at = clock.now()
    record.published_by_id = actor.id
    session.flush()
    audit.record(session, actor, "credit.conduct_published", record, {"category": record.category}, ip)
    return record


def revoke(
    session: Session, actor: User, record: ConductRecord, reason: str, ip: str | None = None
) -> ConductRecord:
    """Withdraw a record (e.g. overturned on review): it stays, marked revoked with the reason, and
    stops counting from now on."""
    _supervisor(actor)
    reason = (reason or "").strip()
    if not reason:
        raise Invalid(_l("Give the reason for the revocation."), code="reason_required")
    if len(reason) > MAX_PENALTY:
        raise Invalid(_l("Some fields are too long."), code="fields_too_long", details={"fields": ["reason"]})
    if record.status == "revoked":
        raise Conflict(_l("This record is already revoked."), code="record_revoked")
    record.status = "revoked"
    record.revoked_at = clock.now()
    record.revoked_by_id = actor.id
    record.revocation_reason = reason
    session.flush()
    audit.record(session, actor, "credit.conduct_revoked", record, {"reason": reason}, ip)
    return record


# -- reading ------------------------------------------------------------------------------------------


def may_manage(actor: User | None) -> bool:
    """Supervisors and admins see drafts, the people involved and the evidence file."""
    return actor is not None and actor.role in (Role.SUPERVISOR, Role.ADMIN)


def visible(session: Session, actor: User | None, record_id: uuid.UUID) -> ConductRecord:
    record = session.get(ConductRecord, record_id)
    if record is None or not (record.public or may_manage(actor)):
        raise NotFound(_l("No such conduct record."), code="conduct_record_not_found")
    return record


def listing(
    actor: User | None, q: str | None = None, kind: str | None = None, category: str | None = None
) -> Select:
    """Newest first: the published (and later revoked) records for everyone, drafts too for managers."""
    query = select(ConductRecord)
    if not may_manage(actor):
        query = query.where(ConductRecord.published_at.is_not(None))
    if q:
        needle = q.strip().lower()
        query = query.where(
            or_(
                func.lower(ConductRecord.subject_name).contains(needle, autoescape=True),
                func.lower(ConductRecord.subject_identifier) == needle,
            )
        )
    if kind:
        query = query.where(ConductRecord.subject_kind == kind)
    if category:
        query = query.where(ConductRecord.category == category)
    return query.order_by(
        func.coalesce(ConductRecord.published_at, ConductRecord.created_at).desc(), ConductRecord.id
    )


def standing(record: ConductRecord, now: datetime) -> str:
    """draft, revoked, debarred (in force), debarment_pending, debarment_ended, or published."""
    if record.status in ("draft", "revoked"):
        return record.status
    if record.debarred_from is None:
        return "published"
    today = local_day(now)
    if today < record.debarred_from:
        return "debarment_pending"
    if record.debarred_to is not None and today > record.debarred_to:
        return "debarment_ended"
    return "debarred"


def _counting_at(at: datetime):
    """Records published by ``at`` and not revoked by then."""
    return and_(
        ConductRecord.published_at.is_not(None),
        ConductRecord.published_at <= at,
        or_(ConductRecord.revoked_at.is_(None), ConductRecord.revoked_at > at),
    )


def _debarring(kind: str, at: datetime):
    day = local_day(at)
    return and_(
        ConductRecord.subject_kind == kind,
        _counting_at(at),
        ConductRecord.debarred_from <= day,
        ConductRecord.debarred_to >= day,
    )


def debarred_ids(session: Session, kind: str, at: datetime) -> set[uuid.UUID]:
    """R-R3: the subjects of ``kind`` under a debarment covering ``at`` (as it was known at ``at``)."""
    if kind not in SUBJECT_KINDS:
        raise ValueError(f"unknown subject kind {kind}")
    return set(session.scalars(select(ConductRecord.subject_id).where(_debarring(kind, at)).distinct()))


def debarment(session: Session, kind: str, subject_id: uuid.UUID, at: datetime) -> ConductRecord | None:
    """The debarment in force at ``at`` that ends last, if any."""
    return session.scalar(
        select(ConductRecord)
        .where(_debarring(kind, at), ConductRecord.subject_id == subject_id)
        .order_by(ConductRecord.debarred_to.desc())
        .limit(1)
    )


def is_debarred(session: Session, kind: str, subject_id: uuid.UUID, at: datetime) -> bool:
    return debarment(session, kind, subject_id, at) is not None


def refuse_if_debarred(session: Session, kind: str, subject_id: uuid.UUID, at: datetime) -> None:
    """R-R3: a debarred party cannot act. 403 rather than 409: the refusal is about who acts, not about
    the state of the tender, and no change to the request can make it succeed."""
    record = debarment(session, kind, subject_id, at)
    if record is None:
        return
    raise Forbidden(
        _l(
            "Debarred until %(last)s (inclusive) by a published conduct record (R-R3): this is not allowed.",
            last=when(record.debarred_to, "date"),
        ),
        code=f"{kind}_debarred",
        details={
            "rule": "R-R3",
            "record": str(record.id),
            "debarred_from": record.debarred_from.isoformat() if record.debarred_from else None,
            "debarred_to": record.debarred_to.isoformat() if record.debarred_to else None,
        },
    )


def conduct_penalty_points(session: Session, kind: str, subject_id: uuid.UUID, at: datetime) -> int:
    """The record-based part of a credit score: the points to deduct from it at ``at``.

    Each record published within the last POINTS_YEARS years and not revoked by ``at`` costs its
    category's points; a debarment in force at ``at`` costs DEBARMENT_POINTS more. Experts combine this
    with their post-evaluation reviews (R-R4); e.g. a score of 100 minus both, floored at 0.
    """
    since = at - timedelta(days=365 * POINTS_YEARS)
    records = session.scalars(
        select(ConductRecord).where(
            ConductRecord.subject_kind == kind,
            ConductRecord.subject_id == subject_id,
            _counting_at(at),
            ConductRecord.published_at > since,
        )
    ).all()
    day = local_day(at)
    points = 0
    for record in records:
        points += CATEGORY[record.category].points
        if (
            record.debarred_from is not None
            and record.debarred_to is not None
            and record.debarred_from <= day <= record.debarred_to
        ):
            points += DEBARMENT_POINTS
    return points


def referenced_files(session: Session) -> list[str]:
    """Evidence files the database points at (for ``FileStore.sweep``)."""
    return list(
        session.scalars(
            select(ConductRecord.evidence_sha256).where(ConductRecord.evidence_sha256.is_not(None))
        )
    )
