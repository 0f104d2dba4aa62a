"""Beat jobs for bidding: pay scheduled deposit refunds (idempotent)."""

from __future__ import annotations

from celery import shared_task

from bidding import ledger
from core import clock
from core.db import db


@shared_task(name="bidding.pay_refunds")
def pay_refunds() -> int:
    """Refunds are paid as soon as they are scheduled; the due date is the legal limit (R-D2..R-D4)."""
    paid = 0
    for deposit in ledger.refunds_due(db.session, clock.now()):
        ledger.execute_refund(db.session, deposit)
        db.session.commit()
        paid += 1
    return paid
