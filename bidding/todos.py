"""What tenderers, agency staff and custodians must do on tenders now, for their dashboards (core.todo):
each item with its count, its time limit and the rule that sets it, and a link to the tender page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from flask import url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from accounts.models import User
from bidding.models import (
    Bid,
    BidPart,
    CustodianShare,
    Deposit,
    HallAttendance,
    Objection,
    Opening,
    PartOpening,
    Question,
    Tender,
)
from bidding.permissions import assigned_tenders
from core.db import get_row
from core.todo import Todo


def about(tender: Tender) -> str:
    """What a to-do is about: the tender's code and title (every package's to-dos say it so)."""
    return f"{tender.code or _('draft')} · {tender.title}"


def _page(tender: Tender, anchor: str = "") -> str:
    return url_for("bidding.notice", tender_id=tender.id) + anchor


def _hall(tender: Tender, anchor: str = "") -> str:
    """The opening hall, where everything of the opening is done (开标大厅)."""
    return url_for("hall.hall_page", tender_id=tender.id) + anchor


def tenderer(session: Session, user: User, now: datetime) -> Iterator[Todo]:
    """Decrypt at the opening (R-B6), finish a bid before the deadline (R-B3), bid where a deposit is
    paid; for the tenderer's organisation."""
    org = user.organization_id
    if org is None:
        return
    # Tenders by id: PostgreSQL compares no JSON column, so DISTINCT goes on the id, not the row.
    undecrypted = (
        select(Bid.tender_id)
        .join(Opening, Opening.tender_id == Bid.tender_id)
        .join(BidPart, BidPart.bid_id == Bid.id)
        .outerjoin(PartOpening, PartOpening.part_id == BidPart.id)
        .where(
            Opening.status == "decrypting",
            Bid.organization_id == org,
            Bid.status == "submitted",
            PartOpening.part_id.is_(None),
        )
        .distinct()
    )
    waiting = session.execute(
        select(Tender, Opening.decrypt_until)
        .join(Opening, Opening.tender_id == Tender.id)
        .where(Tender.id.in_(undecrypted))
    ).all()
    for tender, until in waiting:
        yield Todo(
            _("Decrypt your bid at the opening"),
            _page(tender, "#my-bid"),  # the tender page: the parts, the receipt and the decryption widget
            about(tender),
            until,
            "R-B6",
        )
    bids = session.scalars(
        select(Bid)
        .join(Tender, Tender.id == Bid.tender_id)
        .where(
            Bid.organization_id == org, Bid.status.in_(("uploading", "submitted")), Tender.bid_deadline > now
        )
    ).all()
    for bid in bids:
        if bid.status == "uploading":
            tender = get_row(session, Tender, bid.tender_id)
            yield Todo(
                _("Upload the remaining parts of your bid for lot %(lot)s and submit it", lot=bid.lot_number),
                _page(tender, "#my-bid"),
                about(tender),
                tender.bid_deadline,
                "R-B3",
            )
    signed = select(HallAttendance.tender_id).where(
        HallAttendance.organization_id == org, HallAttendance.signed_in_at.is_not(None)
    )
    for tender in session.scalars(
        select(Tender)
        .where(
            Tender.id.in_({b.tender_id for b in bids if b.status == "submitted"}),
            Tender.id.not_in(signed),
        )
        .order_by(Tender.bid_deadline)
    ):
        yield Todo(
            _("Sign in at the opening hall (签到)"),
            _hall(tender, "#hall-signin"),
            about(tender),
            tender.bid_deadline,
            "R-T5",
        )
    answered = select(HallAttendance.tender_id).where(
        HallAttendance.organization_id == org, HallAttendance.verdict.is_not(None)
    )
    to_answer = (
        select(Bid.tender_id)
        .join(Opening, Opening.tender_id == Bid.tender_id)
        .where(Bid.organization_id == org, Bid.status == "submitted", Opening.status == "closed")
        .where(Bid.tender_id.not_in(answered))
        .distinct()
    )
    for tender in session.scalars(select(Tender).where(Tender.id.in_(to_answer))):
        yield Todo(
            _("Sign the opening record or object to it"),
            _hall(tender, "#hall-record"),
            about(tender),
            None,
            "R-B7",
        )
    bid_lots = {(b.tender_id, b.lot_number) for b in bids}
    for deposit, tender in session.execute(
        select(Deposit, Tender)
        .join(Tender, Tender.id == Deposit.tender_id)
        .where(Deposit.organization_id == org, Deposit.status == "held", Tender.bid_deadline > now)
    ):
        if (deposit.tender_id, deposit.lot_number) not in bid_lots:
            yield Todo(
                _("Seal and upload your bid for lot %(lot)s (your deposit is paid)", lot=deposit.lot_number),
                _page(tender, "#my-bid"),
                about(tender),
                tender.bid_deadline,
                "R-B3",
            )


def agency(session: Session, user: User, now: datetime) -> Iterator[Todo]:
    """For the tenders this person runs: drafts to publish, questions and objections to answer (R-T3,
    R-T4), the opening to start at the deadline and to close (R-T5, R-B6)."""
    mine = assigned_tenders(user)
    for tender in session.scalars(select(Tender).where(Tender.id.in_(mine), Tender.status == "draft")):
        yield Todo(
            _("Publish the draft"),
            _page(tender, "#publish-form"),
            about(tender),
            tender.documents_from,
            "R-T1",
        )
    questions = session.execute(
        select(Tender, func.count(Question.id))
        .join(Question, Question.tender_id == Tender.id)
        .where(Tender.id.in_(mine), Question.answer_id.is_(None), Tender.status == "published")
        .group_by(Tender.id)
    ).all()
    for tender, n in questions:
        yield Todo(
            ngettext("Answer %(num)d clarification question", "Answer %(num)d clarification questions", n),
            _page(tender, "#questions"),
            about(tender),
            None,  # no fixed limit; an answer later than 15 days before the deadline moves it (R-T3)
            "R-T3",
            n,
        )
    objections = session.execute(
        select(Tender, func.count(Objection.id), func.min(Objection.answer_due_at))
        .join(Objection, Objection.tender_id == Tender.id)
        .where(Tender.id.in_(mine), Objection.answered_at.is_(None))
        .group_by(Tender.id)
    ).all()
    for tender, n, due in objections:
        yield Todo(
            ngettext("Answer %(num)d objection", "Answer %(num)d objections", n),
            _page(tender, "#objections"),
            about(tender),
            due,
            "R-T4",
            n,
        )
    due_openings = session.scalars(
        select(Tender)
        .outerjoin(Opening, Opening.tender_id == Tender.id)
        .where(
            Tender.id.in_(mine),
            Tender.status == "published",
            Tender.bid_deadline <= now,
            Opening.tender_id.is_(None),
        )
    )
    for tender in due_openings:
        # Started by the platform within seconds where its scheduler runs; the hall's button otherwise.
        yield Todo(_("Start the opening"), _hall(tender), about(tender), tender.bid_deadline, "R-T5")
    running = session.execute(
        select(Tender, Opening)
        .join(Opening, Opening.tender_id == Tender.id)
        .where(Tender.id.in_(mine), Opening.status == "decrypting")
    ).all()
    for tender, opening in running:
        yield Todo(
            _("Close the opening once the bids are decrypted"),
            _hall(tender, "#hall-closing"),
            about(tender),
            opening.decrypt_until,
            "R-B6",
        )


def custodian(session: Session, user: User, now: datetime) -> Iterator[Todo]:
    """Opening-key shares to release while an opening decrypts (supervisors and notaries; the agency's
    staff see theirs too); first of all, the custodian key itself."""
    if not user.custodian_recipient:
        yield Todo(
            _("Make your custodian key: until then no tender can name you to hold a share of its key"),
            url_for("bidding.custodian_key"),
            key="custodian-key",
        )
    rows = session.execute(
        select(Tender, Opening.decrypt_until)
        .join(CustodianShare, CustodianShare.tender_id == Tender.id)
        .join(Opening, Opening.tender_id == Tender.id)
        .where(
            CustodianShare.custodian_id == user.id,
            CustodianShare.released_at.is_(None),
            Opening.status == "decrypting",
        )
    ).all()
    for tender, until in rows:
        yield Todo(
            _("Release your share of the opening key"),
            _hall(tender, "#hall-custody"),
            about(tender),
            until,
            "R-B6",
        )


def supervisor(session: Session, user: User, now: datetime) -> Iterator[Todo]:
    """Openings to witness in the hall while they run, and objections whose answer is overdue on the
    tenders this supervisor oversees (R-T4)."""
    for tender, until in session.execute(
        select(Tender, Opening.decrypt_until)
        .join(Opening, Opening.tender_id == Tender.id)
        .where(Tender.id.in_(assigned_tenders(user)), Opening.status == "decrypting")
    ):
        yield Todo(_("Witness the opening in the hall"), _hall(tender), about(tender), until, "R-T5")
    late = session.execute(
        select(Tender, func.count(Objection.id), func.min(Objection.answer_due_at))
        .join(Objection, Objection.tender_id == Tender.id)
        .where(
            Tender.id.in_(assigned_tenders(user)),
            Objection.answered_at.is_(None),
            Objection.answer_due_at <= now,
        )
        .group_by(Tender.id)
    ).all()
    for tender, n, due in late:
        yield Todo(
            ngettext(
                "Look into %(num)d objection the agency has not answered in time",
                "Look into %(num)d objections the agency has not answered in time",
                n,
            ),
            _page(tender, "#objections"),
            about(tender),
            due,
            "R-T4",
            n,
        )
