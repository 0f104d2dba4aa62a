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
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from flask_babel import lazy_gettext as _l
from sqlalchemy import event, or_, select
from sqlalchemy.orm import Session

import audit
from accounts.models import Organization, User
from bidding import custodians, hall_changes, hall_record, opening, permissions, services
from bidding.bidders import has_submitted_bid
from bidding.lifecycle import Timed, deadline_passed
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


class _Timed(Timed, Protocol):
    @property
    def paused_at(self) -> datetime | None: ...


class _Opened(Protocol):
    @property
    def status(self) -> str: ...

    @property
    def decrypt_until(self) -> datetime | None: ...


def stage(tender: _Timed, row: _Opened | None, now: datetime) -> str:
    """Where the hall stands, from the tender and its opening (rows, or hall_changes.Facts alike)."""
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


@dataclass(frozen=True)
class Viewer:
    """Who the watcher is to this tender, read once per request (the rights and the board both ask)."""

    runs: bool
    oversees: bool
    bidder: bool  # a tenderer whose company has a submitted bid
    tenderer: bool
    share: CustodianShare | None


_VIEWERS = "hall.viewers"


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_viewers(session: Session) -> None:
    session.info.pop(_VIEWERS, None)  # rights are read again in the next unit of work


def viewer(session: Session, actor: User | None, tender: Tender) -> Viewer:
    memo = session.info.setdefault(_VIEWERS, {})
    key = (getattr(actor, "id", None), tender.id)
    if key not in memo:
        tenderer = actor is not None and actor.role == Role.TENDERER
        memo[key] = Viewer(
            runs=permissions.runs(session, actor, tender),
            oversees=permissions.oversees(session, actor, tender),
            bidder=tenderer
            and has_submitted_bid(session, tender.id, getattr(actor, "organization_id", None)),
            tenderer=tenderer,
            share=_custodian(session, actor, tender),
        )
    return memo[key]


def may_watch(session: Session, actor: User | None, tender: Tender) -> bool:
    """Who may open the hall (see the module's docstring)."""
    if tender.status == "draft":
        return False
    row = session.get(Opening, tender.id)
    if row is not None and row.status in ("closed", "failed"):
        return True  # R-B7: the record is shown; once signed, to the public
    if actor is None:
        return False
    who = viewer(session, actor, tender)
    # R-B7: bidders, the tender's agency staff and supervisors (permissions.may_see_opening_record)
    if who.runs or who.oversees or who.bidder or who.share is not None:
        return True
    return who.tenderer and not deadline_passed(tender)


def require_watch(session: Session, actor: User | None, tender: Tender) -> None:
    if not may_watch(session, actor, tender):
        raise NotFound(_l("No such tender."), code="tender_not_found")


def watched(session: Session, actor: User | None, tender_id: uuid.UUID) -> Tender:
    """The tender whose hall ``actor`` may watch (the pages and the API alike), or not found."""
    tender = services.visible(session, actor, tender_id)
    require_watch(session, actor, tender)
    return tender


def _attendance(session: Session, tender: Tender, org_id) -> HallAttendance | None:
    if org_id is None:
        return None
    return session.get(HallAttendance, (tender.id, org_id))


def etag(facts: hall_changes.Facts, user_id: str | None, org_id: uuid.UUID | None, language: str) -> str:
    """The ETag of the board a watcher would see now: the tender's change counter, the stage (the clock
    turns it at the deadline and at the end of the decryption window), the watcher (its user id, as the
    session cookie names it), its company's own sign-in, and its language. No database read: the facts
    are the process's (hall_changes.facts)."""
    parts = (
        facts.revision,
        stage(facts, facts.opening, clock.now()),
        user_id,
        org_id in facts.signed_in if org_id else None,
        language,
    )
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:20]


# -- the board ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PartRow:
    part: str
    state: str  # pending | ok | failed
    failure: str | None
    platform_fault: bool


@dataclass(frozen=True)
class DepositRow:
    """A deposit as the hall shows it (values, not a database row: the snapshot outlives its session)."""

    organization_id: uuid.UUID
    lot_number: int
    amount_fen: int
    kind: str
    status: str
    refund_due_at: datetime | None

    @classmethod
    def of(cls, d: Deposit) -> DepositRow:
        return cls(d.organization_id, d.lot_number, d.amount_fen, d.kind, d.status, d.refund_due_at)


@dataclass(frozen=True)
class AttendanceRow:
    organization_id: uuid.UUID
    signed_in_at: datetime | None
    verdict: str | None
    verdict_at: datetime | None
    remark: str

    @classmethod
    def of(cls, a: HallAttendance) -> AttendanceRow:
        return cls(a.organization_id, a.signed_in_at, a.verdict, a.verdict_at, a.remark)


@dataclass(frozen=True)
class BidRow:
    bid_id: str
    organization_id: uuid.UUID
    tenderer: str
    lot: int
    signed_in: bool
    parts: tuple[PartRow, ...]
    complete: bool
    outcome: str | None
    outcome_reason: str | None
    tenderers_fault: bool  # established (R-B1, R-B6): no reason may be given for it
    platform_fault: bool
    deposit: DepositRow | None


@dataclass(frozen=True)
class Snapshot:
    """What every watcher of the hall sees alike at one revision and stage: read once per web process
    and revision (``_SNAPSHOTS``), however many watchers poll; each watcher's own part is added by
    ``board``. Rows in it are read-only (loaded columns of detached objects)."""

    shares_released: int = 0
    shares_total: int = 0
    shares_needed: int = 0
    key_rebuilt: bool = False
    bids: tuple[BidRow, ...] = ()
    readings: tuple[hall_record.Reading, ...] = ()
    objections: tuple[dict, ...] = ()
    attendance: tuple[tuple[str, AttendanceRow], ...] = ()
    deposits: tuple[tuple[str, DepositRow], ...] = ()


@dataclass
class Board:
    tender: Tender
    opening: Opening | None
    stage: str
    now: datetime
    shared: Snapshot
    # the watcher's own
    org_id: uuid.UUID | None = None
    role: str = "public"  # bidder | agency | supervisor | custodian | tenderer | public
    my_bids: list[Bid] = field(default_factory=list)
    my_attendance: HallAttendance | None = None
    my_share: CustodianShare | None = None
    may_sign_in: bool = False
    may_object: bool = False
    may_confirm: bool = False
    deposits: list[tuple[str, DepositRow]] = field(default_factory=list)  # failed tender: what happens (R-B5)

    def __getattr__(self, name: str):
        return getattr(self.shared, name)  # bids, readings, objections, shares...

    @property
    def left_to_judge(self) -> list[BidRow]:
        """The closing checklist: bids not fully decrypted (R-B6)."""
        return [row for row in self.shared.bids if not row.complete]


SNAPSHOTS_KEPT = 64
_SNAPSHOTS: hall_changes.Memo[Snapshot] = hall_changes.Memo(SNAPSHOTS_KEPT)


def snapshot(session: Session, tender: Tender, row: Opening | None, at_stage: str) -> Snapshot:
    """The shared part of the board at the tender's current revision and stage (once per process)."""
    return _SNAPSHOTS.get_or_make(
        (tender.id, tender.hall_revision, at_stage), lambda: _read_snapshot(session, tender, row)
    )


def _read_snapshot(session: Session, tender: Tender, row: Opening | None) -> Snapshot:
    key = tender.opening_key
    shares = (
        Snapshot(
            shares_total=len(key.shares),
            shares_needed=key.threshold,
            shares_released=sum(1 for s in key.shares if s.released_at is not None),
        )
        if key is not None
        else Snapshot()
    )
    if row is None:
        return shares  # before the opening: nothing about who bid (R-B4)
    names = dict(
        session.execute(
            select(Organization.id, Organization.name).where(
                or_(
                    Organization.id.in_(select(Bid.organization_id).where(Bid.tender_id == tender.id)),
                    Organization.id.in_(
                        select(Deposit.organization_id).where(Deposit.tender_id == tender.id)
                    ),
                    Organization.id.in_(
                        select(HallAttendance.organization_id).where(HallAttendance.tender_id == tender.id)
                    ),
                    Organization.id.in_(
                        select(Objection.organization_id).where(Objection.tender_id == tender.id)
                    ),
                )
            )
        ).all()
    )
    attendance = {
        a.organization_id: AttendanceRow.of(a)
        for a in session.scalars(select(HallAttendance).where(HallAttendance.tender_id == tender.id))
    }
    deposits = {
        (d.organization_id, d.lot_number): DepositRow.of(d)
        for d in session.scalars(
            select(Deposit).where(Deposit.tender_id == tender.id).order_by(Deposit.created_at)
        )
    }
    common = replace(
        shares,
        attendance=tuple(sorted(((names[org], a) for org, a in attendance.items()), key=lambda t: t[0])),
        deposits=tuple((names[d.organization_id], d) for d in deposits.values()),
    )
    if row.status == "failed":
        return common
    received = opening.submitted(session, tender)
    outcomes = {
        o.part_id: o
        for o in session.scalars(
            select(PartOpening).where(PartOpening.part_id.in_([p.id for bid in received for p in bid.parts]))
        )
    }
    bids = []
    for bid in received:
        ordered = sorted(bid.parts, key=lambda p: bidpack.PARTS.index(p.part))  # as the record reads
        results = [outcomes.get(p.id) for p in ordered]
        parts = tuple(
            PartRow(
                part=p.part,
                state=o.status if o is not None else "pending",
                failure=o.failure_code if o is not None else None,
                platform_fault=opening.platform_fault([o]),
            )
            for p, o in zip(ordered, results, strict=True)
        )
        signed = attendance.get(bid.organization_id)
        bids.append(
            BidRow(
                bid_id=str(bid.id),
                organization_id=bid.organization_id,
                tenderer=names[bid.organization_id],
                lot=bid.lot_number,
                signed_in=bool(signed and signed.signed_in_at),
                parts=parts,
                complete=all(p.state == "ok" for p in parts),
                outcome=bid.outcome,
                outcome_reason=bid.outcome_reason,
                tenderers_fault=opening.tenderers_fault(results) and not opening.platform_fault(results),
                platform_fault=opening.platform_fault(results),
                deposit=deposits.get((bid.organization_id, bid.lot_number)),
            )
        )
    objections = tuple(
        {
            "id": str(o.id),
            "raised_by": names.get(o.organization_id, "") if o.organization_id else "",
            "text": o.text,
            "raised_at": o.raised_at,
            "answer": o.answer,
            "answered_at": o.answered_at,
        }
        for o in session.scalars(
            select(Objection)
            .where(Objection.tender_id == tender.id, Objection.stage == "opening")
            .order_by(Objection.raised_at)
        )
    )
    return replace(
        common,
        key_rebuilt=any(o.opened_with == "opening_key" for o in outcomes.values()),
        bids=tuple(bids),
        readings=tuple(hall_record.readout(session, tender)),
        objections=objections,
    )


def board(session: Session, actor: User | None, tender: Tender) -> Board:
    """Everything one watcher's hall shows now: the shared snapshot and the watcher's own part."""
    now = clock.now()
    row = session.get(Opening, tender.id)
    at_stage = stage(tender, row, now)
    org_id = getattr(actor, "organization_id", None)
    result = Board(
        tender=tender, opening=row, stage=at_stage, now=now, shared=snapshot(session, tender, row, at_stage)
    )
    result.org_id = org_id
    who = viewer(session, actor, tender)
    runs, oversees, bidder = who.runs, who.oversees, who.bidder
    result.my_share = who.share
    result.role = (
        "agency"
        if runs
        else "supervisor"
        if oversees
        else "bidder"
        if bidder
        else "tenderer"
        if who.tenderer
        else "custodian"
        if result.my_share
        else "public"
    )
    result.my_attendance = _attendance(session, tender, org_id)
    if bidder:
        result.my_bids = list(
            session.scalars(
                select(Bid)
                .where(Bid.tender_id == tender.id, Bid.organization_id == org_id, Bid.status == "submitted")
                .order_by(Bid.lot_number)
            )
        )
    mine = result.my_attendance
    result.may_sign_in = bidder and at_stage in (WAITING, PAUSED) and not (mine and mine.signed_in_at)
    result.may_object = bidder and at_stage in (DECRYPTING, WINDOW_CLOSED)
    result.may_confirm = bidder and at_stage == CLOSED and not (mine and mine.verdict)
    # R-B5: each bidder sees its own deposit, the agency and supervisors all of them
    result.deposits = [
        (name, d) for name, d in result.shared.deposits if runs or oversees or d.organization_id == org_id
    ]
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
        hall_changes.forget(session, tender.id)  # the watcher's own ETag changes; nobody else's (R-B4)
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
