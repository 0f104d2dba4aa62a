"""The tenderer's "My bid" workbench on the tender page (issue 15): its bids for the tender with each
part's state, what it may do now (start a bid, seal and upload a part, submit, withdraw or replace,
decrypt at the opening), and what the page's scripts need for that (the tender's id, the opening key,
the tenderer's signing certificate). Read-only: the actions are bids.py, uploads.py and opening.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Certificate, User
from bidding.lifecycle import deadline_passed
from bidding.models import Bid, BidUpload, Opening, PartOpening, Tender
from core.roles import Role
from crypto import bidpack

ACTIVE = ("uploading", "submitted")


@dataclass
class PartView:
    part: str
    state: str  # missing | uploading | received
    size: int | None = None
    received_at: datetime | None = None
    offset: int | None = None  # a resumable upload's progress
    opened: str | None = None  # ok | failed (at the opening)
    failure_code: str | None = None


@dataclass
class BidView:
    bid: Bid
    parts: list[PartView] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return all(p.state == "received" for p in self.parts)

    @property
    def decrypted(self) -> bool:
        return all(p.opened == "ok" for p in self.parts)


def signing_certificate(session: Session, user: User, now: datetime) -> Certificate | None:
    """The tenderer's newest signing certificate that is valid now: what its bids are signed with."""
    return session.scalar(
        select(Certificate)
        .where(
            Certificate.user_id == user.id,
            Certificate.profile == "tenderer_signing",
            Certificate.revoked_at.is_(None),
            Certificate.not_before <= now,
            Certificate.not_after > now,
        )
        .order_by(Certificate.created_at.desc())
        .limit(1)
    )


def _parts(session: Session, bid: Bid) -> list[PartView]:
    received = {p.part: p for p in bid.parts}
    uploads = {u.part: u for u in session.scalars(select(BidUpload).where(BidUpload.bid_id == bid.id))}
    views = []
    for name in bidpack.PARTS:
        if name in received:
            row = received[name]
            opened = session.get(PartOpening, row.id)
            views.append(
                PartView(
                    name,
                    "received",
                    row.size,
                    row.received_at,
                    opened=opened.status if opened else None,
                    failure_code=opened.failure_code if opened else None,
                )
            )
        elif name in uploads:
            views.append(PartView(name, "uploading", uploads[name].size, offset=uploads[name].received))
        else:
            views.append(PartView(name, "missing"))
    return views


def context(session: Session, actor: User | None, tender: Tender, now: datetime) -> dict:
    """What the tender page shows a tenderer about its own bids (None for anyone else)."""
    if actor is None or actor.role != Role.TENDERER or tender.status == "draft":
        return {"workbench": None}
    rows = session.scalars(
        select(Bid)
        .where(Bid.tender_id == tender.id, Bid.organization_id == actor.organization_id)
        .order_by(Bid.created_at.desc())
    ).all()
    active = [BidView(b, _parts(session, b)) for b in rows if b.status in ACTIVE]
    opening = session.get(Opening, tender.id)
    open_for_bids = tender.status == "published" and not deadline_passed(tender, now) and opening is None
    taken = {b.bid.lot_number for b in active if b.bid.status == "uploading"}
    decrypting = (
        opening is not None
        and opening.status == "decrypting"
        and opening.decrypt_until is not None
        and now < opening.decrypt_until
    )
    return {
        "workbench": {
            "bids": active,
            "history": [b for b in rows if b.status not in ACTIVE],
            "open": open_for_bids and tender.paused_at is None,
            "lots": [lot for lot in tender.lots if lot.number not in taken],
            "certificate": signing_certificate(session, actor, now),
            "decrypting": decrypting,
            "opening": opening,
        }
    }
