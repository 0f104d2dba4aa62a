"""Beat jobs for bidding: release scheduled e-guarantee refunds (idempotent).

Money refunds are not settled here: they go to the bank in a refund batch and are settled by the
statement that shows them paid (bidding/bank.py), never on the platform's word alone.
"""

from __future__ import annotations

from celery import shared_task

from bidding import ledger
from core import clock
from core.db import db


@shared_task(name="bidding.pay_refunds")
def pay_refunds() -> int:
    """E-guarantees move no money: their refund (the guarantee's release) is settled as soon as due."""
    paid = 0
    for deposit in ledger.refunds_due(db.session, clock.now()):
        if deposit.kind != "guarantee":
            continue
        ledger.execute_refund(db.session, deposit)
        db.session.commit()
        paid += 1
    return paid
