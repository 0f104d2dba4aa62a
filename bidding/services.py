"""Tender rules: drafts, the timeline checks (R-T1, R-T2, R-T4, R-T6, R-D1), publication with the
opening key split among custodians (ARCHITECTURE "Sealed bids"), and the phase derived from the clock.
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
from accounts.models import User
from bidding.calendar import Calendar, local_date
from bidding.models import TRACKS, CustodianShare, Lot, OpeningKeyRecord, Tender, TenderCounter
from core import clock
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.roles import Role
from crypto import age, opening

TIMELINE = ("documents_from", "documents_to", "clarification_deadline", "objection_deadline", "bid_deadline")
DEPOSIT_CAP_PERCENT = 2  # R-D1: at most 2% of the estimated price (条例26)
MIN_BID_DAYS = 20  # R-T1
MIN_DOCUMENT_DAYS = 5  # R-T2
OBJECTION_DAYS = 10  # R-T4
CLARIFICATION_DAYS = 15  # R-T3
OPENING_THRESHOLD = 2


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


def parse_money(value: Any, field: str) -> int:
    """API money: {"amount_fen": int, "currency": "CNY"}; integers only, never floats."""
    amount = value.get("amount_fen") if isinstance(value, dict) else value
    if isinstance(value, dict) and value.get("currency", "CNY") != "CNY":
        raise Invalid(_l("Only CNY is supported."), code="unsupported_currency", details={"field": field})
    if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
        raise Invalid(
            _l("Amounts are whole fen (integers)."), code="invalid_amount", details={"field": field}
        )
    return amount


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
    timeline = {name: parse_time(raw_timeline.get(name), f"timeline.{name}") for name in TIMELINE}
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
    problems = []
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
    from accounts.models import Organization

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
    return tender


def _apply(tender: Tender, data: TenderInput) -> None:
    tender.title, tender.track, tender.category = data.title, data.track, data.category
    tender.description, tender.region, tender.tenderee_id = data.description, data.region, data.tenderee_id
    tender.estimated_price_fen, tender.deposit_fen = data.estimated_price_fen, data.deposit_fen
    tender.state_controlled, tender.scoring_scheme = data.state_controlled, data.scoring_scheme
    for name, value in data.timeline.items():
        setattr(tender, name, value)
    # Lots keep their rows by number: replacing the list would insert lot 1 again before deleting the old
    # one, which the (tender, number) unique constraint refuses.
    existing = {lot.number: lot for lot in tender.lots}
    kept = []
    for number, lot in enumerate(data.lots, start=1):
        row = existing.get(number) or Lot(number=number)
        row.name, row.estimated_price_fen, row.deposit_fen = (
            lot.name,
            lot.estimated_price_fen,
            lot.deposit_fen,
        )
        kept.append(row)
    tender.lots = kept


def manageable(session: Session, actor: User, tender_id: uuid.UUID) -> Tender:
    """A tender the acting agency user may manage (404 for anyone else: drafts are not public)."""
    tender = session.get(Tender, tender_id)
    if tender is None or actor.role != Role.AGENCY or tender.agency_id != actor.organization_id:
        raise NotFound(_l("No such tender."), code="tender_not_found")
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
    from bidding.models import DocumentDownload, TenderDocument

    if tender.status != "draft":
        raise Conflict(
            _l("Only a draft can be deleted."),
            code="tender_not_draft",
        )
    code, title, target = tender.code, tender.title, ("tenders", str(tender.id))
    documents = select(TenderDocument.id).where(TenderDocument.tender_id == tender.id)
    session.execute(delete(DocumentDownload).where(DocumentDownload.document_id.in_(documents)))
    session.execute(delete(TenderDocument).where(TenderDocument.tender_id == tender.id))
    session.delete(tender)
    session.flush()
    audit.record(session, actor, "bidding.draft_deleted", target, {"code": code, "title": title}, ip)


def timeline_problems(tender: Tender, calendar: Calendar, now: datetime) -> list[dict]:
    """Every timeline rule the tender breaks, each with its rule id and the earliest allowed date."""
    t = {name: getattr(tender, name) for name in TIMELINE}
    missing = [name for name, value in t.items() if value is None]
    if missing:
        return [{"field": name, "rule": None, "code": "missing"} for name in missing]
    problems = []
    start = local_date(t["documents_from"])
    if t["documents_from"] < now - timedelta(minutes=5):
        problems.append({"field": "documents_from", "rule": None, "code": "in_the_past"})
    earliest_docs_end = calendar.period_end(start, MIN_DOCUMENT_DAYS)  # R-T2 with R-T6
    if local_date(t["documents_to"]) < earliest_docs_end:
        problems.append(
            {
                "field": "documents_to",
                "rule": "R-T2",
                "code": "too_early",
                "earliest": earliest_docs_end.isoformat(),
            }
        )
    earliest_deadline = calendar.period_end(start, MIN_BID_DAYS)  # R-T1 with R-T6
    if local_date(t["bid_deadline"]) < earliest_deadline:
        problems.append(
            {
                "field": "bid_deadline",
                "rule": "R-T1",
                "code": "too_early",
                "earliest": earliest_deadline.isoformat(),
            }
        )
    if t["documents_to"] > t["bid_deadline"]:
        problems.append({"field": "documents_to", "rule": None, "code": "after_bid_deadline"})
    deadline_day = local_date(t["bid_deadline"])
    latest_objection = deadline_day - timedelta(days=OBJECTION_DAYS)  # R-T4
    if (
        local_date(t["objection_deadline"]) > latest_objection
        or t["objection_deadline"] < t["documents_from"]
    ):
        problems.append(
            {
                "field": "objection_deadline",
                "rule": "R-T4",
                "code": "out_of_window",
                "latest": latest_objection.isoformat(),
            }
        )
    latest_questions = deadline_day - timedelta(days=CLARIFICATION_DAYS)  # R-T3: answers 15 days ahead
    if (
        local_date(t["clarification_deadline"]) > latest_questions
        or t["clarification_deadline"] < t["documents_from"]
    ):
        problems.append(
            {
                "field": "clarification_deadline",
                "rule": "R-T3",
                "code": "out_of_window",
                "latest": latest_questions.isoformat(),
            }
        )
    return problems


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
    supervisor: User,
    notary: User | None = None,
    ip: str | None = None,
) -> Tender:
    """Check the timeline, create the opening key split among custodians, and publish the notice."""
    if tender.status != "draft":
        raise Conflict(_l("This tender is already published."), code="tender_not_draft")
    from bidding import documents

    calendar = Calendar.load(session)
    problems = timeline_problems(tender, calendar, clock.now())
    problems += documents.publication_problems(session, tender)
    if problems:
        raise Invalid(
            _l("The timeline breaks the rules: see details."),
            code="timeline_invalid",
            details={"problems": problems},
        )
    custodians = [("agency", actor), ("supervisor", supervisor)] + ([("notary", notary)] if notary else [])
    if supervisor.role != Role.SUPERVISOR:
        raise Invalid(
            _l("Choose a supervisor as custodian."), code="invalid_custodian", details={"role": "supervisor"}
        )
    if len({user.id for _role, user in custodians}) != len(custodians):
        raise Invalid(_l("Each custodian must be a different person."), code="invalid_custodian")
    recipients = []
    for role, user in custodians:
        if not user.custodian_recipient:
            raise Invalid(
                _l("%(name)s has no custodian key yet (account settings).", name=user.display_name),
                code="custodian_key_missing",
                details={"custodian": role, "user": user.username},
            )
        recipients.append((role, age.Recipient.parse(user.custodian_recipient)))
    key = opening.create_opening_key(recipients, OPENING_THRESHOLD)
    record = OpeningKeyRecord(tender_id=tender.id, recipient=str(key.recipient), threshold=key.k)
    session.add(record)
    users = dict(custodians)
    for sealed in key.shares:
        session.add(
            CustodianShare(
                tender_id=tender.id,
                custodian_id=users[sealed.custodian].id,
                role=sealed.custodian,
                x=sealed.x,
                sealed=sealed.ciphertext,
                share_sha256=sealed.share_sha256,
            )
        )
    tender.status = "published"
    tender.published_at = clock.now()
    issued = documents.issue_with_notice(session, tender)
    session.flush()
    audit.record(
        session,
        actor,
        "bidding.tender_published",
        tender,
        {
            "code": tender.code,
            "timeline": {name: getattr(tender, name).isoformat() for name in TIMELINE},
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


def phase(tender: Tender, now: datetime) -> str:
    """Where a tender stands, from its status and timeline against the clock (never from a job)."""
    if tender.status != "published":
        return tender.status
    if now < tender.documents_from:
        return "announced"
    if now < tender.bid_deadline:
        return "bidding"
    return "opening"


def published_query(q: str | None = None, category: str | None = None):
    query = select(Tender).where(Tender.status != "draft").order_by(Tender.published_at.desc())
    if q:
        # Substring match works for Chinese without a tokenizer, on SQLite and PostgreSQL alike.
        text = q.strip()
        query = query.where(
            Tender.title.icontains(text, autoescape=True)
            | Tender.code.icontains(text, autoescape=True)
            | Tender.description.icontains(text, autoescape=True)
        )
    if category:
        query = query.where(Tender.category == category)
    return query


def visible(session: Session, actor: User | None, tender_id: uuid.UUID) -> Tender:
    """A published tender for anyone; a draft only for its agency and tenderee (404 otherwise)."""
    tender = session.get(Tender, tender_id)
    if tender is None:
        raise NotFound(_l("No such tender."), code="tender_not_found")
    if tender.status == "draft":
        org = getattr(actor, "organization_id", None)
        if org is None or org not in (tender.agency_id, tender.tenderee_id):
            raise NotFound(_l("No such tender."), code="tender_not_found")
    return tender


@dataclass
class CustodianReadiness:
    """Who can hold a share of a new tender's opening key now, and who must first make a custodian key."""

    agent_ready: bool
    supervisors_ready: list[User]
    supervisors_missing: list[User]

    @property
    def can_publish(self) -> bool:
        return self.agent_ready and bool(self.supervisors_ready)


def custodian_readiness(session: Session, actor: User) -> CustodianReadiness:
    supervisors = session.scalars(
        select(User).where(User.role == Role.SUPERVISOR, User.active.is_(True)).order_by(User.display_name)
    ).all()
    return CustodianReadiness(
        actor.custodian_recipient is not None,
        [s for s in supervisors if s.custodian_recipient],
        [s for s in supervisors if not s.custodian_recipient],
    )


def custodian_candidates(session: Session, role: Role) -> list[User]:
    return list(
        session.scalars(
            select(User)
            .where(User.role == role, User.custodian_recipient.is_not(None))
            .order_by(User.display_name)
        )
    )
