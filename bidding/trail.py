"""What the audit page needs to know about tenders: find one by code, name them, and list the records
that belong to one (its trail). Registered with audit.describe at start-up (audit knows no domain)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from bidding.models import Bid, Deposit, Tender, TenderDocument


def find(session: Session, code: str) -> uuid.UUID | None:
    return session.scalar(select(Tender.id).where(Tender.code == code.upper()))


def codes(session: Session, ids: set[str]) -> dict[str, str]:
    wanted = []
    for value in ids:
        try:
            wanted.append(uuid.UUID(value))
        except ValueError:
            continue
    if not wanted:
        return {}
    rows = session.execute(select(Tender.id, Tender.code).where(Tender.id.in_(wanted)))
    return {str(tender_id): code for tender_id, code in rows if code is not None}


def targets(session: Session, tender_id: uuid.UUID) -> list[str]:
    """The tender's bids, deposits and documents (the tender itself is always included)."""
    found: list[str] = []
    for model in (Bid, Deposit, TenderDocument):
        found += [str(i) for i in session.scalars(select(model.id).where(model.tender_id == tender_id))]
    return found
