"""What each role sees of a tender (one place decides it, as ProZorro's serializers do)."""

from __future__ import annotations

from datetime import datetime

from bidding.lifecycle import phase
from bidding.models import Tender
from bidding.periods import TIMELINE


def money(fen: int, currency: str = "CNY") -> dict:
    return {"amount_fen": fen, "currency": currency}


def tender_json(tender: Tender, now: datetime, *, manager: bool = False) -> dict:
    """A tender as the API shows it. For its managers the body round-trips: PATCH accepts it as it is."""
    body = {
        "id": str(tender.id),
        "code": tender.code,
        "title": tender.title,
        "track": tender.track,
        "category": tender.category,
        "region": tender.region,
        "description": tender.description,
        "status": tender.status,
        "phase": phase(tender, now),
        "estimated_price": money(tender.estimated_price_fen, tender.currency),
        "deposit": money(tender.deposit_fen, tender.currency),
        "state_controlled": tender.state_controlled,
        "tenderee_id": str(tender.tenderee_id),
        "timeline": {
            name: (getattr(tender, name).isoformat() if getattr(tender, name) else None) for name in TIMELINE
        },
        "published_at": tender.published_at.isoformat() if tender.published_at else None,
        "lots": [
            {
                "number": lot.number,
                "name": lot.name,
                "estimated_price": money(lot.estimated_price_fen),
                "deposit": money(lot.deposit_fen),
            }
            for lot in tender.lots
        ],
        "opening_key": tender.opening_key.recipient if tender.opening_key else None,
    }
    if manager:
        body["scoring_scheme"] = tender.scoring_scheme
    return body
