"""From the signed report to the contract: the candidates' publicity (R-A1) with objections that pause the
award, the tenderee's decision (R-A2), award and result notices, the contract within 30 days (R-A3), and
the deposit refunds (R-D3; procurement R-D4)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import IO

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from accounts.models import Organization, User
from bidding import ledger, objections, periods, permissions
from bidding.bidders import has_submitted_bid
from bidding.calendar import Calendar, last_day
from bidding.models import Bid, Deposit, Objection, Tender
from core import clock
from core.bodies import LARGEST_FILE
from core.db import get_row
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.notifications import notify
from core.present import when
from core.roles import Role
from core.storage import FileStore
from evaluation.models import Award, EvaluationReport, Publicity

PUBLISH_WITHIN_DAYS = 3  # R-A1
PUBLICITY_DAYS = 3  # R-A1
CONTRACT_DAYS = 30  # R-A3


def publication_due(report: EvaluationReport, calendar: Calendar) -> datetime:
    """R-A1: candidates are published within 3 days of the signed report, counted as R-T6 says (the
    day of the report not counted; a last day off work runs to the next working day). From this moment
    an unpublished report is overdue: supervisors see it on their dashboard."""
    if report.signed_at is None:
        raise Conflict(_l("The result is shown once the report is signed."), code="report_not_signed")
    return calendar.closes(report.signed_at, PUBLISH_WITHIN_DAYS)


def contract_due(decided_at: datetime, calendar: Calendar) -> datetime:
    """R-A3: the contract within 30 days of the award notice, in calendar days (the notice's day not
    counted, the 30th included); when the 30th is not a working day, the end of the next working day
    (R-T6). Due at midnight Beijing time ending that day (docs/time-limits.md)."""
    return calendar.closes(decided_at, CONTRACT_DAYS)


def overdue(session: Session, now: datetime) -> list[dict]:
    """Award steps past their time limit, for supervisors: candidates not published within 3 days of
    the report (R-A1) and contracts not recorded within 30 days of the award notice (R-A3)."""
    calendar = Calendar.load(session)
    items = []
    for report, tender in session.execute(
        select(EvaluationReport, Tender)
        .join(Tender, Tender.id == EvaluationReport.tender_id)
        .outerjoin(Publicity, Publicity.tender_id == EvaluationReport.tender_id)
        .where(EvaluationReport.status == "signed", Publicity.tender_id.is_(None))
    ):
        due = publication_due(report, calendar)
        if now >= due:
            items.append(
                {
                    "tender": tender,
                    "rule": "R-A1",
                    "step": "candidates",
                    "due": due,
                    "last_day": last_day(due),
                }
            )
    for row, tender in session.execute(
        select(Award, Tender)
        .join(Tender, Tender.id == Award.tender_id)
        .where(Award.contract_signed_at.is_(None), Award.contract_due_at <= now)
    ):
        due = row.contract_due_at
        items.append(
            {"tender": tender, "rule": "R-A3", "step": "contract", "due": due, "last_day": last_day(due)}
        )
    return sorted(items, key=lambda item: item["due"])


def rules() -> tuple[str, list[tuple[str, str]]]:
    """The award's time limits in words, for the rules page."""
    publicity = _l(
        "The candidates are published within %(within)s days of the signed evaluation report, for at "
        "least %(days)s days; supervisors see a report whose candidates are not published in time as "
        "overdue. Objections during the publicity are answered within %(answer)s days and pause the award.",
        within=PUBLISH_WITHIN_DAYS,
        days=PUBLICITY_DAYS,
        answer=periods.ANSWER_DAYS,
    )
    contract = _l(
        "The winner receives the award notice and the others a result notice; the contract is signed "
        "within %(days)s calendar days of the award notice: the notice's day is not counted, and when the "
        "last day is a weekend or holiday the period runs to the end of the next working day. Supervisors "
        "see an unsigned contract past that as overdue.",
        days=CONTRACT_DAYS,
    )
    return str(_l("Award")), [("R-A1", str(publicity)), ("R-A3", str(contract))]


def _agency(session: Session, actor: User, tender: Tender) -> None:
    if not permissions.runs(session, actor, tender):
        raise Forbidden(_l("The tender's agency runs the award steps."), code="role_forbidden")


def require_contract_party(session: Session, actor: User, tender: Tender) -> None:
    """The tenderee or the agency staff running the tender record its contract (R-A3)."""
    if not (permissions.runs(session, actor, tender) or permissions.is_tenderee(actor, tender)):
        raise Forbidden(_l("The tenderee or its agency records the contract."), code="role_forbidden")


def publish_candidates(session: Session, actor: User, tender: Tender, ip: str | None = None) -> Publicity:
    """Publish the report's candidates for at least 3 days (R-A1)."""
    _agency(session, actor, tender)
    report = session.get(EvaluationReport, tender.id)
    if report is None or report.status != "signed":
        raise Conflict(_l("Candidates are published from a signed report."), code="report_not_signed")
    if session.get(Publicity, tender.id) is not None:
        raise Conflict(_l("The candidates are already published."), code="publicity_exists")
    now = clock.now()
    ranked = {r["bid"]: r for r in report.content["results"]}
    candidates = [
        {
            "bid": key,
            "tenderer": ranked[key]["tenderer"],
            "rank": ranked[key]["rank"],
            "price_fen": ranked[key]["price_fen"],
            "total": ranked[key]["total"],
        }
        for key in report.content["candidates"]
    ]
    if not candidates:
        raise Conflict(_l("The report names no candidate."), code="no_candidates")
    publicity = Publicity(
        tender_id=tender.id,
        candidates=candidates,
        published_at=now,
        ends_at=Calendar.load(session).closes(now, PUBLICITY_DAYS),
        late=now >= publication_due(report, Calendar.load(session)),
        published_by_id=actor.id,
    )
    session.add(publicity)
    session.flush()
    audit.record(
        session,
        actor,
        "evaluation.candidates_published",
        tender,
        {
            "candidates": [c["bid"] for c in candidates],
            "ends_at": publicity.ends_at.isoformat(),
            "late": publicity.late,
        },
        ip,
    )
    return publicity


def object_during_publicity(
    session: Session, actor: User, tender: Tender, text: str, ip: str | None = None
) -> Objection:
    """A bidder objects to the result during the publicity; the award waits for the answer (R-A1)."""

    publicity = session.get(Publicity, tender.id)
    now = clock.now()
    if publicity is None or not publicity.published_at <= now < publicity.ends_at:
        raise Conflict(
            _l("Objections to the result are raised during the publicity."), code="not_in_publicity"
        )
    if actor.role != Role.TENDERER or not has_submitted_bid(session, tender.id, actor.organization_id):
        raise Forbidden(_l("Bidders object to the result."), code="not_a_bidder")
    objection = Objection(
        tender_id=tender.id,
        stage="publicity",
        raised_by_id=actor.id,
        organization_id=actor.organization_id,
        text=objections._text(text, "text"),
        raised_at=now,
        answer_due_at=periods.answer_due(now, Calendar.load(session)),  # R-A1
    )
    session.add(objection)
    session.flush()
    audit.record(
        session,
        actor,
        "bidding.objection_raised",
        tender,
        {"objection": str(objection.id), "stage": "publicity"},
        ip,
    )
    return objection


def candidates(session: Session, tender: Tender) -> dict:
    publicity = session.get(Publicity, tender.id)
    if publicity is None:
        raise NotFound(_l("No candidates are published."), code="publicity_not_found")
    return {
        "published_at": publicity.published_at.isoformat(),
        "ends_at": publicity.ends_at.isoformat(),
        "candidates": publicity.candidates,
    }


def decide(
    session: Session, actor: User, tender: Tender, bid_id: uuid.UUID, reasons: str, ip: str | None = None
) -> Award:
    """The tenderee chooses among the candidates with its reasons; for state-controlled projects only the
    first-ranked may win (R-A2). Not before the publicity ends, nor while an objection waits (R-A1)."""
    if actor.role != Role.TENDEREE or actor.organization_id != tender.tenderee_id:
        raise Forbidden(_l("The tenderee decides the award."), code="role_forbidden")
    publicity = session.get(Publicity, tender.id)
    if publicity is None:
        raise Conflict(_l("The candidates are not published yet."), code="publicity_not_found")
    now = clock.now()
    if now < publicity.ends_at:
        raise Conflict(
            _l(
                "The publicity runs until %(end)s.",
                end=when(publicity.ends_at),
            ),
            code="publicity_running",
            details={"ends_at": publicity.ends_at.isoformat(), "rule": "R-A1"},
        )
    waiting = session.scalar(
        select(Objection.id).where(
            Objection.tender_id == tender.id, Objection.stage == "publicity", Objection.answered_at.is_(None)
        )
    )
    if waiting is not None:
        raise Conflict(
            _l("An objection to the result waits for its answer."),
            code="objection_pending",
            details={"rule": "R-A1"},
        )
    if session.get(Award, tender.id) is not None:
        raise Conflict(_l("The award is already decided."), code="award_exists")
    ranked = {c["bid"]: c for c in publicity.candidates}
    choice = ranked.get(str(bid_id))
    if choice is None:
        raise Invalid(_l("Choose one of the published candidates."), code="not_a_candidate")
    first = min(publicity.candidates, key=lambda c: c["rank"])
    if tender.state_controlled and choice["bid"] != first["bid"]:  # R-A2
        raise Invalid(
            _l("In a state-controlled project the first-ranked candidate wins."),
            code="first_candidate_required",
            details={"rule": "R-A2", "first": first["bid"]},
        )
    text = (reasons or "").strip()
    if len(text) < 2:
        raise Invalid(
            _l("Record why this candidate wins."), code="reasons_required", details={"field": "reasons"}
        )
    award = Award(
        tender_id=tender.id,
        winner_bid_id=bid_id,
        reasons=text[:4000],
        decided_by_id=actor.id,
        decided_at=now,
        contract_due_at=contract_due(now, Calendar.load(session)),  # R-A3
    )
    session.add(award)
    session.flush()
    from evaluation import notices

    notices.issue(session, tender, award)  # the signed PDFs (R-R2)
    _notices(session, tender, award)
    if tender.track == "procurement":  # R-D4: the others' deposits within 5 working days of the notice
        for deposit in _held_deposits(session, tender):
            if deposit.organization_id != get_row(session, Bid, bid_id).organization_id:
                ledger.schedule_refund(session, deposit, "result", now, actor, ip)
    audit.record(
        session,
        actor,
        "evaluation.award_decided",
        tender,
        {
            "winner": str(bid_id),
            "rank": choice["rank"],
            "reasons": text,
            "contract_due_at": award.contract_due_at.isoformat(),
        },
        ip,
    )
    return award


def _held_deposits(session: Session, tender: Tender) -> list[Deposit]:
    return list(
        session.scalars(select(Deposit).where(Deposit.tender_id == tender.id, Deposit.status == "held"))
    )


def _notices(session: Session, tender: Tender, award: Award) -> None:
    """中标通知书 to the winner, 中标结果通知书 to every other bidder (R-A3)."""
    winner_org = get_row(session, Bid, award.winner_bid_id).organization_id
    bidders = set(
        session.scalars(
            select(Bid.organization_id).where(Bid.tender_id == tender.id, Bid.status == "submitted")
        )
    )
    winner_name = get_row(session, Organization, winner_org).name
    for org_id in bidders:
        won = org_id == winner_org
        subject = (
            _l("Award notice: you won %(code)s", code=tender.code)
            if won
            else _l(
                "Result notice for %(code)s: the award went to %(winner)s",
                code=tender.code,
                winner=winner_name,
            )
        )
        body = (
            _l("Sign the contract by the end of %(day)s.", day=last_day(award.contract_due_at).isoformat())
            if won
            else _l("Thank you for bidding. Your deposit is refunded as the rules provide.")
        )
        for user in session.scalars(select(User).where(User.organization_id == org_id)):
            notify(session, user, str(subject), str(body), f"/tenders/{tender.id}")


def record_contract(
    session: Session,
    actor: User,
    tender: Tender,
    stream: IO[bytes],
    *,
    amount_fen: int,
    store: FileStore,
    ip: str | None = None,
) -> Award:
    """The signed contract (its file hash and amount); all remaining deposits are refunded (R-D3)."""
    require_contract_party(session, actor, tender)
    award = session.get(Award, tender.id)
    if award is None:
        raise Conflict(_l("The award is not decided yet."), code="award_not_found")
    if award.contract_signed_at is not None:
        raise Conflict(_l("The contract is already recorded."), code="contract_exists")
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        raise Invalid(
            _l("Amounts are whole fen (integers)."), code="invalid_amount", details={"field": "amount"}
        )
    stored = store.put_stream(stream, max_size=LARGEST_FILE)
    if stored.size == 0:
        raise Invalid(_l("The file is empty."), code="empty_file")
    now = clock.now()
    award.contract_signed_at, award.contract_sha256, award.contract_amount_fen = (
        now,
        stored.sha256,
        amount_fen,
    )
    for deposit in _held_deposits(session, tender):  # R-D3: everyone, within 5 days, with interest
        ledger.schedule_refund(session, deposit, "contract", now, actor, ip)
    session.flush()
    audit.record(
        session,
        actor,
        "evaluation.contract_recorded",
        tender,
        {
            "sha256": stored.sha256,
            "amount_fen": amount_fen,
            "late": now >= award.contract_due_at,  # due at midnight ending the last day
            "rule": "R-A3",
        },
        ip,
    )
    return award


def award_json(session: Session, award: Award) -> dict:
    bid = get_row(session, Bid, award.winner_bid_id)
    return {
        "winner": {"bid": str(bid.id), "tenderer": get_row(session, Organization, bid.organization_id).name},
        "reasons": award.reasons,
        "decided_at": award.decided_at.isoformat(),
        "contract_due_at": award.contract_due_at.isoformat(),
        "contract_signed_at": award.contract_signed_at.isoformat() if award.contract_signed_at else None,
        "contract_sha256": award.contract_sha256,
        "contract_amount_fen": award.contract_amount_fen,
        "award_notice_sha256": award.award_notice_sha256,
        "result_notice_sha256": award.result_notice_sha256,
    }
