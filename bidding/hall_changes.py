"""The opening hall's change counter (``tenders.hall_revision``): every change a hall shows bumps it.

Watchers poll the hall with the revision they saw (an ETag); the answer "not modified" then costs one
primary-key read, on whichever web host takes the poll, because the counter lives in the shared
database, not in a process. The bump is one ``UPDATE ... SET n = n + 1`` in the caller's transaction:
atomic across hosts, seen by watchers exactly when the change it announces is committed.
"""

from __future__ import annotations

import uuid
from typing import cast

from sqlalchemy import Table, update
from sqlalchemy.orm import Session

from bidding.models import Tender

_TENDERS = cast(Table, Tender.__table__)


def touch(session: Session, tender_id: uuid.UUID) -> None:
    """Announce a change of the tender's hall (opening started, a part decrypted, a share released, an
    objection raised or answered, a sign-in, the record closed or confirmed, a pause)."""
    session.execute(
        update(_TENDERS)
        .where(_TENDERS.c.id == tender_id)
        # updated_at is the tender's own edit time: a hall event is not an edit of the tender.
        .values(hall_revision=_TENDERS.c.hall_revision + 1, updated_at=_TENDERS.c.updated_at)
    )
