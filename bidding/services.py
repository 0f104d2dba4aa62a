"""Tender rules: drafts, the deposit cap (R-D1), publication (its timeline checked by ``bidding.periods``:
R-T1 to R-T4, R-T6) with the opening key split among custodians (ARCHITECTURE "Sealed bids"); the
phase is bidding.lifecycle's.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

import audit
from accounts.models import Organization, User
from bidding import custodians, periods, permissions
from bidding.calendar import Calendar, local_date
from bidding.models import TRACKS, CustodianShare, Lot, OpeningKeyRecord, Tender, TenderCounter
from core import clock
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.money import parse_money
from core.roles import Role
from crypto import opening

DEPOSIT_CAP_PERCENT = 2  # R-D1: at most 2% of the estimated price (条例26)


@dataclass
class LotInput:
    name: str
    estimated_price_fen: int
    deposit_fen: int


@dataclass
class TenderInput:
    title: str
    track: str
    category: str
    description: str
    region: str
    tenderee_id: uuid.UUID
    estimated_price_fen: int
    deposit_fen: int
    state_controlled: bool
    scoring_scheme: dict
    lots: list[LotInput]
    timeline: dict[str, datetime | None]


def parse_time(value: Any, field: str) -> datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError as exc:
            raise Invalid(
                _l("Times are RFC 3339 with an offset."), code="invalid_time", details={"field": field}
            ) from exc
    if moment.tzinfo is None:
        raise Invalid(_l("Times are RFC 3339 with an offset."), code="invalid_time", details={"field": field})
    return moment


MAX_LOTS = 50
TEXT_LIMITS = {"title": (4, 200), "category": (1, 64), "region": (0, 64), "description": (0, 20000)}


def _text(data: dict, field: str) -> str:
    """A text field within its column's length, or a 422 naming the field (never a database error)."""
    value = data.get(field)
    if value is not None and not isinstance(value, str):
        raise Invalid(_l("This field is text."), code="invalid_text", details={"field": field})
    text = (value or "").strip()
    low, high = TEXT_LIMITS[field]
    if not low <= len(text) <= high:
        raise Invalid(
            _l("%(field)s takes %(low)s to %(high)s characters.", field=field, low=low, high=high),
            code="invalid_title" if field == "title" else "invalid_length",
            details={"field": field, "min": low, "max": high},
        )
    return text


def as_object(value: Any, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise Invalid(
            _l("%(field)s is an object.", field=field), code="invalid_object", details={"field": field}
        )
    return value


def parse_lots(raw_lots: Any) -> list[LotInput]:
    if not isinstance(raw_lots, list) or not raw_lots:
        raise Invalid(_l("A tender has at least one lot."), code="lots_required", details={"field": "lots"})
    if len(raw_lots) > MAX_LOTS:
        raise Invalid(
            _l("A tender has at most %(n)s lots.", n=MAX_LOTS),
            code="too_many_lots",
            details={"field": "lots"},
        )
    lots = []
    for n, item in enumerate(raw_lots, start=1):
        item = as_object(item, f"lots[{n}]")
        name = item.get("name")
        if name is not None and not isinstance(name, str):
            raise Invalid(
                _l("This field is text."), code="invalid_text", details={"field": f"lots[{n}].name"}
            )
        lots.append(
            LotInput(
                (name or f"{n}").strip()[:200] or f"{n}",
                parse_money(item.get("estimated_price"), f"lots[{n}].estimated_price"),
                parse_money(item.get("deposit") or 0, f"lots[{n}].deposit"),
            )
        )
    return lots


def parse_tender(data: dict) -> TenderInput:
    """Validate the shape of a tender from the API or a form (rules on values come later). Every refusal
    names its field: what GET /tenders/{id} returns is exactly what this accepts back."""
    title = _text(data, "title")
    track = data.get("track") or "works"
    if track not in TRACKS:
        raise Invalid(
            _l("The track is works or procurement."), code="invalid_track", details={"field": "track"}
        )
    if not str(data.get("category") or "").strip():
        raise Invalid(_l("Give a category."), code="missing_fields", details={"fields": ["category"]})
    category = _text(data, "category")
    try:
        tenderee_id = uuid.UUID(str(data.get("tenderee_id")))
    except ValueError as exc:
        raise Invalid(
            _l("Choose the tenderee."), code="missing_fields", details={"fields": ["tenderee_id"]}
        ) from exc
    estimate = parse_money(data.get("estimated_price"), "estimated_price")
    deposit = parse_money(data.get("deposit") or 0, "deposit")
    # No lots given: the whole tender is one lot.
    whole = [
        {"name": title, "estimated_price": data.get("estimated_price"), "deposit": data.get("deposit") or 0}
    ]
    lots = parse_lots(whole if data.get("lots") is None else data["lots"])
    raw_timeline = as_object(data.get("timeline"), "timeline")
    timeline = {name: parse_time(raw_timeline.get(name), f"timeline.{name}") for name in periods.TIMELINE}
    scheme = as_object(data.get("scoring_scheme"), "scoring_scheme")
    state_controlled = data.get("state_controlled", False)
    if not isinstance(state_controlled, bool):
        raise Invalid(
            _l("state_controlled is true or false."),
            code="invalid_boolean",
            details={"field": "state_controlled"},
        )
    return TenderInput(
        title,
        track,
        category,
        _text(data, "description"),
        _text(data, "region"),
        tenderee_id,
        estimate,
        deposit,
        state_controlled,
        scheme,
        lots,
        timeline,
    )


def _check_values(data: TenderInput) -> None:
    problems: list[dict[str, object]] = []
    for number, lot in enumerate(data.lots, start=1):
        if lot.estimated_price_fen <= 0:
            problems.append(
                {"field": f"lots[{number}].estimated_price", "rule": None, "code": "estimate_required"}
            )
        elif lot.deposit_fen * 100 > lot.estimated_price_fen * DEPOSIT_CAP_PERCENT:  # R-D1
            problems.append(
                {
                    "field": f"lots[{number}].deposit",
                    "rule": "R-D1",
                    "code": "deposit_over_cap",
                    "max_fen": lot.estimated_price_fen * DEPOSIT_CAP_PERCENT // 100,
                }
            )
    if data.estimated_price_fen <= 0:
        problems.append({"field": "estimated_price", "rule": None, "code": "estimate_required"})
    elif data.deposit_fen * 100 > data.estimated_price_fen * DEPOSIT_CAP_PERCENT:
        problems.append(
            {
                "field": "deposit",
                "rule": "R-D1",
                "code": "deposit_over_cap",
                "max_fen": data.estimated_price_fen * DEPOSIT_CAP_PERCENT // 100,
            }
        )
    if sum(lot.estimated_price_fen for lot in data.lots) > data.estimated_price_fen:
        problems.append({"field": "lots", "rule": None, "code": "lots_exceed_estimate"})
    if problems:
        raise Invalid(
            _l("Some amounts break the rules: see details."),
            code="tender_invalid",
            details={"problems": problems},
        )


def _next_code(session: Session) -> str:
    year = clock.local(clock.now()).year
    counter = session.get(TenderCounter, year, with_for_update=True)
    if counter is None:
        counter = TenderCounter(year=year, last=0)
        session.add(counter)
        session.flush()
    session.execute(
        update(TenderCounter).where(TenderCounter.year == year).values(last=TenderCounter.last + 1)
    )
    session.refresh(counter)
    return f"ZB-{year}-{counter.last:06d}"


def _require_agency(actor: User) -> None:
    if actor.role != Role.AGENCY or actor.organization_id is None:
        raise Forbidden(_l("Only agency staff manage tenders."), code="role_forbidden")


def _tenderee(session: Session, tenderee_id: uuid.UUID):
    org = session.get(Organization, tenderee_id)
    if org is None or org.kind != "tenderee":
        raise Invalid(
            _l("Choose a registered tenderee."), code="invalid_tenderee", details={"field": "tenderee_id"}
        )
    return org


def create_draft(session: Session, actor: User, data: TenderInput, ip: str | None = None) -> Tender:
    _require_agency(actor)
    _check_values(data)
    _tenderee(session, data.tenderee_id)
    tender = Tender(code=_next_code(session), agency_id=actor.organization_id, created_by_id=actor.id)
    _apply(tender, data)
    session.add(tender)
    session.flush()
    audit.record(
        session, actor, "bidding.tender_drafted", tender, {"code": tender.code, "title": tender.title}, ip
    )
    permissions.assign(session, None, tender, actor, permissions.AGENCY, ip)  # who drafts it runs it
    return tender


def _apply(tender: Tender, data: TenderInput) -> None:
    tender.title, tender.track, tender.category = data.title, data.track, data.category
    tender.description, tender.region, tender.tenderee_id = data.description, data.region, data.tenderee_id
    tender.estimated_price_fen, tender.deposit_fen = data.estimated_price_fen, data.deposit_fen
    tender.state_controlled, tender.scoring_scheme = data.state_controlled, data.scoring_scheme
    for name, value in data.timeline.items():
        setattr(tender, name, value)
    # Lots are updated in place by number: a new list would be inserted before the old rows are
    # deleted, and (tender, number) is unique (a second PATCH of a draft with lots answered 500).
    existing = {lot.number: lot for lot in tender.lots}
    lots = []
    for n, item in enumerate(data.lots, start=1):
        lot = existing.get(n) or Lot(number=n)
        lot.name, lot.estimated_price_fen, lot.deposit_fen = (
            item.name,
            item.estimated_price_fen,
            item.deposit_fen,
        )
        lots.append(lot)
    tender.lots = lots


def manageable(session: Session, actor: User, tender_id: uuid.UUID) -> Tender:
    """A tender the acting agency user is assigned to run (bidding.permissions.require_runs)."""
    tender = session.get(Tender, tender_id)
    if tender is None:
        raise NotFound(_l("No such tender."), code="tender_not_found")
    permissions.require_runs(session, actor, tender)
    return tender


def update_draft(
    session: Session, actor: User, tender: Tender, data: TenderInput, ip: str | None = None
) -> Tender:
    if tender.status != "draft":
        raise Conflict(_l("A published tender changes only through amendments."), code="tender_not_draft")
    _check_values(data)
    _tenderee(session, data.tenderee_id)
    _apply(tender, data)
    session.flush()
    audit.record(session, actor, "bidding.tender_updated", tender, {"code": tender.code}, ip)
    return tender


def delete_draft(session: Session, actor: User, tender: Tender, ip: str | None = None) -> None:
    """Delete a draft with its lots and its not yet issued documents; a published tender stays (R-R2)."""
    from bidding.models import DocumentDownload, TenderAssignment, TenderDocument

    if tender.status != "draft":
        raise Conflict(
            _l("Only a draft can be deleted."),
            code="tender_not_draft",
        )
    code, title, target = tender.code, tender.title, ("tenders", str(tender.id))
    documents = select(TenderDocument.id).where(TenderDocument.tender_id == tender.id)
    session.execute(delete(DocumentDownload).where(DocumentDownload.document_id.in_(documents)))
    session.execute(delete(TenderDocument).where(TenderDocument.tender_id == tender.id))
    session.execute(delete(TenderAssignment).where(TenderAssignment.tender_id == tender.id))
    session.delete(tender)
    session.flush()
    audit.record(session, actor, "bidding.draft_deleted", target, {"code": code, "title": title}, ip)


AFTER_DEADLINE_DAYS = 30  # the publicity, award and refund periods follow the deadline (R-A1, R-A3, R-D3)


def calendar_warnings(tender: Tender, calendar: Calendar) -> list[dict]:
    """R-T6 counts working days from the holiday calendar: a year without the State Council's arrangement
    loaded counts as plain weeks, which publication must say (a warning: the law does not wait for it)."""
    if tender.documents_from is None or tender.bid_deadline is None:
        return []
    last = local_date(tender.bid_deadline) + timedelta(days=AFTER_DEADLINE_DAYS)
    years = calendar.uncovered_years(local_date(tender.documents_from), last)
    if not years:
        return []
    message = _l(
        "The holiday calendar has no official arrangement for %(years)s: working days there are counted as "
        "Monday to Friday until the platform administrator loads it.",
        years=", ".join(map(str, years)),
    )
    return [{"code": "calendar_not_covered", "years": years, "message": message}]


def publish(
    session: Session,
    actor: User,
    tender: Tender,
    *,
    supervisor: User | None,
    notary: User | None,
    ip: str | None = None,
) -> Tender:
    """Check the timeline, create the opening key split among custodians, and publish the notice."""
    if tender.status != "draft":
        raise Conflict(_l("This tender is already published."), code="tender_not_draft")
    from bidding import documents

    calendar = Calendar.load(session)
    problems = periods.problems(tender, calendar, clock.now())
    problems += documents.publication_problems(session, tender)
    if problems:
        raise Invalid(
            _l("The timeline breaks the rules: see details."),
            code="timeline_invalid",
            details={"problems": problems},
        )
    chosen = custodians.choose(session, actor, supervisor, notary)
    key = opening.create_opening_key(custodians.recipients(chosen), custodians.THRESHOLD)
    record = OpeningKeyRecord(tender_id=tender.id, recipient=str(key.recipient), threshold=key.k)
    session.add(record)
    users = {c.kind: c.user for c in chosen}
    for sealed in key.shares:
        session.add(
            CustodianShare(
                tender_id=tender.id,
                custodian_id=users[sealed.custodian].id,
                role=sealed.custodian,
                x=sealed.x,
                sealed=custodians.seal_at_rest(sealed.ciphertext),
                share_sha256=sealed.share_sha256,
            )
        )
    tender.status = "published"
    tender.published_at = clock.now()
    permissions.reveal_with_deadline(session, tender)
    permissions.assign(session, None, tender, users[custodians.SUPERVISOR], permissions.SUPERVISOR, ip)
    issued = documents.issue_with_notice(session, tender)
    session.flush()
    audit.record(
        session,
        actor,
        "bidding.tender_published",
        tender,
        {
            "code": tender.code,
            "timeline": {name: getattr(tender, name).isoformat() for name in periods.TIMELINE},
            "opening_key": str(key.recipient),
            "threshold": key.k,
            "calendar_not_covered": [y for w in calendar_warnings(tender, calendar) for y in w["years"]],
            "documents": [{"version": d.version, "sha256": d.sha256} for d in issued],
            "shares": [
                {
                    "custodian": s.custodian,
                    "user": str(users[s.custodian].id),
                    "x": s.x,
                    "share_sha256": s.share_sha256,
                }
                for s in key.shares
            ],
        },
        ip,
    )
    return tender


def visible(session: Session, actor: User | None, tender_id: uuid.UUID) -> Tender:
    """A published tender for anyone; a draft only for its agency and tenderee (404 otherwise)."""
    tender = session.get(Tender, tender_id)
    if tender is None:
        raise NotFound(_l("No such tender."), code="tender_not_found")
    if tender.status == "draft" and not (
        permissions.is_tenderee(actor, tender) or permissions.runs(session, actor, tender)
    ):
        raise NotFound(_l("No such tender."), code="tender_not_found")
    return tender
