"""Beat job: keep a signed checkpoint in the history when the log moved but went quiet.

Appends keep one every AUDIT_CHECKPOINT_EVERY entries or AUDIT_CHECKPOINT_SECONDS; after the last
append of a busy hour nothing would otherwise sign the tail, and ``audit verify`` could only vouch
for it through the head row. Idempotent: a checkpoint already kept at the head's size is reused.
"""

from __future__ import annotations

from celery import shared_task

from audit import cosign, log
from core.db import db


@shared_task(name="audit.keep_checkpoint")
def keep_checkpoint() -> int:
    """Keep the head's checkpoint, then have it cosigned by the witness (audit.cosign): a proof asked
    for later finds a cosigned checkpoint at hand, and a refusal (a rolled-back or forked log) is
    logged within a minute of it, not only when someone next needs a proof."""
    kept = log.keep_checkpoint(db.session)
    db.session.commit()
    cosign.publish_quietly(db.session, confirm=True)
    return kept.size if kept else 0
