"""Who bid on a tender: the one query for "has this organisation a submitted bid" (投标人).

A bid counts from its submission (a replaced or withdrawn one no longer does). Opening records,
objections at the opening and in the publicity, complaints and withdrawals all ask here.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from bidding.models import Bid


def has_submitted_bid(
    session: Session, tender_id: uuid.UUID, organization_id: uuid.UUID | None, lot: int | None = None
) -> bool:
    """Whether ``organization_id`` has a submitted bid on the tender (on ``lot`` when given)."""
    if organization_id is None:
        return False
    query = select(Bid.id).where(
        Bid.tender_id == tender_id, Bid.organization_id == organization_id, Bid.status == "submitted"
    )
    if lot is not None:
        query = query.where(Bid.lot_number == lot)
    return session.scalar(query.limit(1)) is not None
