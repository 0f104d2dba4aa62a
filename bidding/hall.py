"""The opening hall (开标大厅): what each watcher of one tender's opening sees, and the bidders' own acts
there: signing in before the deadline (签到) and confirming or objecting to the closed record (R-B7).

Who watches: bidders, the tender's assigned agency staff and supervisors, its custodians; any tenderer
before the deadline (the hall then shows nothing but the countdown and the visitor's own sign-in: R-B4,
nobody learns who or how many bid); everyone once the record is closed or the tender failed (R-B5).

The board changes by events (``hall_changes.touch``) and, between them, only by the clock passing the
deadline or the end of the decryption window: ``version`` folds both in with the watcher's own sign-in,
so a poll is answered "not modified" from one row.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from accounts.models import Organization, User
from bidding import custodians, hall_changes, hall_record, opening, permissions
from bidding.bidders import has_submitted_bid
from bidding.lifecycle import deadline_passed
from bidding.models import (
    Bid,
    CustodianShare,
    Deposit,
    HallAttendance,
    Objection,
    Opening,
    PartOpening,
    Tender,
)
from core import clock
from core.db import get_row
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.roles import Role
from crypto import bidpack

# Where a watcher's hall stands; each has its words on the page (labels "hall.stage").
WAITING, PAUSED, DUE, DECRYPTING, WINDOW_CLOSED, FAILED, CLOSED = (
    "waiting",
    "paused",
    "due",
    "decrypting",
    "window_closed",
    "failed",
    "closed",
)
REMARK_MAX = 2000
VERDICT_ACTIONS = {"confirmed": "bidding.record_confirmed", "objected": "bidding.record_objected"}


def stage(tender: Tender, row: Opening | None, now: datetime) -> str:
    if row is None:
        if not deadline_passed(tender, now):
            return WAITING
        return PAUSED if tender.paused_at is not None else DUE
    if row.status == "failed":
        return FAILED
    if row.status == "closed":
        return CLOSED
    return WINDOW_CLOSED if row.decrypt_until is not None and now >= row.decrypt_until else DECRYPTING


def _custodian(session: Session, actor: User | None, tender: Tender) -> CustodianShare | None:
    if actor is None or getattr(actor, "id", None) is None:
        return None
    return session.scalar(
        select(CustodianShare).where(
            CustodianShare.tender_id == tender.id, CustodianShare.custodian_id == actor.id
        )
    )


def may_watch(session: Session, actor: User | None, tender: Tender) -> bool:
    """Who may open the hall (see the module's docstring)."""
    if tender.status == "draft":
        return False
    row = session.get(Opening, tender.id)
    if row is not None and row.status in ("closed", "failed"):
        return True  # R-B7: the record is shown; once signed, to the public
    if actor is None:
        return False
    if permissions.may_see_opening_record(session, actor, tender) or _custodian(session, actor, tender):
        return True
    return actor.role == Role.TENDERER and not deadline_passed(tender)


def require_watch(session: Session, actor: User | None, tender: Tender) -> None:
    if not may_watch(session, actor, tender):
        raise NotFound(_l("No such tender."), code="tender_not_found")


def _attendance(session: Session, tender: Tender, org_id) -> HallAttendance | None:
    if org_id is None:
        return None
    return session.get(HallAttendance, (tender.id, org_id))


def version(session: Session, actor: User | None, tender: Tender, locale: str) -> str:
    """The ETag of the board this watcher would see now: the tender's change counter, the clock's two
    steps, the watcher's own sign-in and language. Two reads by primary key."""
    row = session.get(Opening, tender.id)
    now = clock.now()
    mine = _attendance(session, tender, getattr(actor, "organization_id", None))
    parts = (
        tender.hall_revision,
        stage(tender, row, now),
        getattr(actor, "id", None),
        mine.signed_in_at if mine else None,
        locale,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:20]


# -- the board ---------------------------------------------------------------------------------------


@dataclass
class PartRow:
    part: str
    state: str  # pending | ok | failed
    failure: str | None
    platform_fault: bool


@dataclass
class BidRow:
    bid_id: str
    tenderer: str
    lot: int
    signed_in: bool
    parts: list[PartRow]
    complete: bool
    outcome: str | None
    outcome_reason: str | None
    tenderers_fault: bool  # established (R-B1, R-B6): no reason may be given for it
    platform_fault: bool
    deposit: Deposit | None
    mine: bool


@dataclass
class Board:
    tender: Tender
    opening: Opening | None
    stage: str
    now: datetime
    bids: list[BidRow] = field(default_factory=list)
    readings: list[hall_record.Reading] = field(default_factory=list)
    objections: list[dict] = field(default_factory=list)
    attendance: list[tuple[str, HallAttendance]] = field(default_factory=list)
    shares_released: int = 0
    shares_total: int = 0
    shares_needed: int = 0
    key_rebuilt: bool = False
    deposits: list[tuple[str, Deposit]] = field(default_factory=list)  # failed tender: what happens (R-B5)
    # the watcher's own
    role: str = "public"  # bidder | agency | supervisor | custodian | tenderer | public
    my_bids: list[Bid] = field(default_factory=list)
    my_attendance: HallAttendance | None = None
    my_share: CustodianShare | None = None
    may_sign_in: bool = False
    may_object: bool = False
    may_confirm: bool = False

    @property
    def left_to_judge(self) -> list[BidRow]:
        """The closing checklist: bids not fully decrypted (R-B6)."""
        return [row for row in self.bids if not row.complete]


def board(session: Session, actor: User | None, tender: Tender) -> Board:
    """Everything one watcher's hall shows now."""
    now = clock.now()
    row = session.get(Opening, tender.id)
    org_id = getattr(actor, "organization_id", None)
    result = Board(tender=tender, opening=row, stage=stage(tender, row, now), now=now)
    runs = permissions.runs(session, actor, tender)
    bidder = (
        actor is not None and actor.role == Role.TENDERER and has_submitted_bid(session, tender.id, org_id)
    )
    result.role = (
        "agency"
        if runs
        else "supervisor"
        if permissions.oversees(session, actor, tender)
        else "bidder"
        if bidder
        else "tenderer"
        if actor is not None and actor.role == Role.TENDERER
        else "custodian"
        if _custodian(session, actor, tender)
        else "public"
    )
    result.my_share = _custodian(session, actor, tender)
    result.my_attendance = _attendance(session, tender, org_id)
    if bidder:
        result.my_bids = list(
            session.scalars(
                select(Bid)
                .where(Bid.tender_id == tender.id, Bid.organization_id == org_id, Bid.status == "submitted")
                .order_by(Bid.lot_number)
            )
        )
    result.may_sign_in = (
        bidder
        and result.stage in (WAITING, PAUSED)
        and not (result.my_attendance and result.my_attendance.signed_in_at)
    )
    key = tender.opening_key
    if key is not None:
        result.shares_total = len(key.shares)
        result.shares_needed = key.threshold
        result.shares_released = sum(1 for s in key.shares if s.released_at is not None)
    if row is None:
        return result  # before the opening: nothing about who bid (R-B4)

    attendance = {
        a.organization_id: a
        for a in session.scalars(select(HallAttendance).where(HallAttendance.tender_id == tender.id))
    }
    result.attendance = sorted(
        ((get_row(session, Organization, org).name, a) for org, a in attendance.items()), key=lambda t: t[0]
    )
    deposits = {
        (d.organization_id, d.lot_number): d
        for d in session.scalars(
            select(Deposit).where(Deposit.tender_id == tender.id).order_by(Deposit.created_at)
        )
    }
    if row.status == "failed":
        # R-B5: not opened; who bid stays as the audit log shows it, the deposits are refunded with
        # interest (条例31): each bidder sees its own, the agency and supervisors all of them.
        staff = runs or result.role == "supervisor"
        result.deposits = [
            (get_row(session, Organization, d.organization_id).name, d)
            for d in deposits.values()
            if staff or d.organization_id == org_id
        ]
        return result
    for bid in opening.submitted(session, tender):
        ordered = sorted(bid.parts, key=lambda p: bidpack.PARTS.index(p.part))  # as the record reads
        outcomes = [session.get(PartOpening, p.id) for p in ordered]
        parts = [
            PartRow(
                part=p.part,
                state=o.status if o is not None else "pending",
                failure=o.failure_code if o is not None else None,
                platform_fault=opening.platform_fault([o]),
            )
            for p, o in zip(ordered, outcomes, strict=True)
        ]
        result.bids.append(
            BidRow(
                bid_id=str(bid.id),
                tenderer=get_row(session, Organization, bid.organization_id).name,
                lot=bid.lot_number,
                signed_in=bool(
                    attendance.get(bid.organization_id) and attendance[bid.organization_id].signed_in_at
                ),
                parts=parts,
                complete=all(p.state == "ok" for p in parts),
                outcome=bid.outcome,
                outcome_reason=bid.outcome_reason,
                tenderers_fault=opening.tenderers_fault(outcomes) and not opening.platform_fault(outcomes),
                platform_fault=opening.platform_fault(outcomes),
                deposit=deposits.get((bid.organization_id, bid.lot_number)),
                mine=bid.organization_id == org_id and org_id is not None,
            )
        )
    result.readings = hall_record.readout(session, tender)
    result.key_rebuilt = (
        session.scalar(
            select(PartOpening.part_id)
            .where(
                PartOpening.opened_with == "opening_key",
                PartOpening.part_id.in_(
                    [p.id for bid in opening.submitted(session, tender) for p in bid.parts]
                ),
            )
            .limit(1)
        )
        is not None
    )
    staff = runs or result.role == "supervisor"
    for o in session.scalars(
        select(Objection)
        .where(Objection.tender_id == tender.id, Objection.stage == "opening")
        .order_by(Objection.raised_at)
    ):
        result.objections.append(
            {
                "id": str(o.id),
                "raised_by": get_row(session, Organization, o.organization_id).name
                if o.organization_id
                else "",
                "text": o.text,
                "raised_at": o.raised_at,
                "answer": o.answer,
                "answered_at": o.answered_at,
                "mine": o.organization_id is not None and o.organization_id == org_id,
                "staff": staff,
            }
        )
    result.may_object = bidder and result.stage in (DECRYPTING, WINDOW_CLOSED)
    result.may_confirm = (
        bidder and result.stage == CLOSED and not (result.my_attendance and result.my_attendance.verdict)
    )
    return result


# -- the bidders' acts -------------------------------------------------------------------------------


def sign_in(session: Session, actor: User, tender: Tender, ip: str | None = None) -> HallAttendance:
    """签到: a bidder says it is present before the deadline. Nobody else learns of it before the deadline
    (R-B4): the entry is sealed with the bids and the hall's shared counter is not bumped."""
    if actor.role != Role.TENDERER or not has_submitted_bid(session, tender.id, actor.organization_id):
        raise Forbidden(_l("Bidders with a submitted bid sign in at the opening."), code="not_a_bidder")
    if deadline_passed(tender):
        raise Conflict(_l("Sign-in closed at the bid deadline."), code="sign_in_closed")
    row = _attendance(session, tender, actor.organization_id)
    if row is None:
        row = HallAttendance(tender_id=tender.id, organization_id=actor.organization_id)
        session.add(row)
    if row.signed_in_at is None:
        row.signed_in_at, row.signed_in_by_id = clock.now(), actor.id
        session.flush()
        audit.record(
            session,
            actor,
            "bidding.hall_signed_in",
            tender,
            {"organization": str(actor.organization_id)},
            ip,
            sealed=permissions.bid_scope(tender.id),
        )
    return row


def give_verdict(
    session: Session, actor: User, tender: Tender, verdict: str, remark: str = "", ip: str | None = None
) -> HallAttendance:
    """签字确认 or an objection to the closed record, with its reason (R-B7); once per bidder."""
    if actor.role != Role.TENDERER or not has_submitted_bid(session, tender.id, actor.organization_id):
        raise Forbidden(_l("Bidders confirm the opening record."), code="not_a_bidder")
    row = session.get(Opening, tender.id)
    if row is None or row.status != "closed":
        raise Conflict(_l("The record is confirmed once the opening is closed."), code="opening_not_closed")
    if verdict not in VERDICT_ACTIONS:
        raise Invalid(
            _l("Confirm the record or object to it."), code="invalid_verdict", details={"field": "verdict"}
        )
    text = (remark or "").strip()
    if verdict == "objected" and not 5 <= len(text) <= REMARK_MAX:
        raise Invalid(
            _l("Write between 5 and %(n)s characters.", n=REMARK_MAX),
            code="invalid_text",
            details={"field": "remark"},
        )
    attendance = _attendance(session, tender, actor.organization_id)
    if attendance is None:
        attendance = HallAttendance(tender_id=tender.id, organization_id=actor.organization_id)
        session.add(attendance)
    if attendance.verdict is not None:
        raise Conflict(_l("Your company has already answered the record."), code="verdict_given")
    attendance.verdict, attendance.verdict_at, attendance.verdict_by_id = verdict, clock.now(), actor.id
    attendance.remark = text[:REMARK_MAX]
    session.flush()
    audit.record(
        session,
        actor,
        VERDICT_ACTIONS[verdict],
        tender,
        {"organization": str(actor.organization_id), "record_pdf_sha256": row.record_pdf_sha256},
        ip,
    )
    hall_changes.touch(session, tender.id)
    return attendance


def record_pdf(session: Session, actor: User | None, tender: Tender) -> str:
    """The signed PDF's store key for whoever may watch the hall once the record is closed."""
    require_watch(session, actor, tender)
    row = session.get(Opening, tender.id)
    if row is None or row.record_pdf_sha256 is None:
        raise NotFound(_l("The opening record is not signed yet."), code="record_not_signed")
    return row.record_pdf_sha256


def sealed_share(session: Session, actor: User, tender: Tender, ip: str | None = None) -> tuple:
    """The custodian's own share sealed to its key, for the hall's page to open in the browser."""
    return custodians.fetch_sealed_share(session, actor, tender, ip)
