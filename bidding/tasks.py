"""Beat jobs for bidding: start openings at the deadline and close those that leave nothing to judge,
release scheduled e-guarantee refunds, check the store against the receipts (all idempotent).

Money refunds are not settled here: they go to the bank in a refund batch and are settled by the
statement that shows them paid (bidding/bank.py), never on the platform's word alone.
"""

from __future__ import annotations

from celery import shared_task
from sqlalchemy.exc import IntegrityError

from bidding import ledger, opening
from bidding.models import Tender
from core import clock
from core.db import db, get_row
from core.errors import Conflict


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
    from core.db import intent
    from core.storage import file_owners, file_store, verify_files

    # Hashing a store of many GiB takes minutes. Tasks take SQLite's write lock with their first query
    # (core.tasks): here the owners are read without it and the files hashed with no transaction open,
    # or every writer of the platform would wait on the check (and fail after the 30 s busy timeout).
    with intent(False):
        owners = file_owners()
        db.session.rollback()
    findings = verify_files(file_store(), owners)
    recorded = integrity.record_findings(db.session, findings)
    db.session.commit()
    return recorded


@shared_task(name="bidding.run_openings")
def run_openings() -> int:
    """R-T5: start every opening whose deadline has passed (R-B5 fails those with fewer than three bids),
    and close those whose decryption window ended with nothing left to judge (R-B6). Idempotent: each
    tender is taken in its own transaction, and a second run (another scheduler, the agency's button
    first) finds it started and moves on."""
    done = 0
    for step, due in ((opening.start, opening.due_to_start), (opening.close, opening.due_to_close)):
        for tender_id in [t.id for t in due(db.session)]:
            db.session.rollback()
            tender = get_row(db.session, Tender, tender_id)
            try:
                step(db.session, None, tender)
                db.session.commit()
                done += 1
            except Conflict:  # someone else started or closed it meanwhile
                db.session.rollback()
            except IntegrityError:  # two schedulers inserted the same opening at once
                db.session.rollback()
    return done
