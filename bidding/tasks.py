"""Beat jobs for bidding: release scheduled e-guarantee refunds, check the store against the receipts
(both idempotent).

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


@shared_task(name="bidding.verify_store")
def verify_store() -> int:
    """Every stored file against its recorded digest (R-B2, R-B6); a damaged bid part is logged once and
    its bidder told, who before the deadline can still upload it again. Times come from the platform
    clock (core.tasks runs core.sandbox.follow first)."""
    from bidding import integrity
    from core.storage import file_owners, file_store, verify_files

    findings = verify_files(file_store(), file_owners())
    recorded = integrity.record_findings(db.session, findings)
    db.session.commit()
    return recorded
