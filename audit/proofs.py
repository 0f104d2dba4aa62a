"""Log proofs for the documents people keep (crypto.logproof): a receipt, the opening record, the
evaluation report, an award notice, a tender archive.

``for_entry(session, index)`` proves one entry in the smallest cosigned checkpoint that includes it,
asking the witness for a new cosignature when none does yet. Call it after the commit that appended the
entry, never inside a unit of work (see ``audit.cosign``). Without a witness, or while it cannot be
reached, there is no proof yet: callers answer ``"proof": null`` and the reader fetches it again later.

For the domain packages (the audit package knows none of them): ``for_action(session, action,
target_id)`` finds the latest entry of that action on that target, and ``with_proof(session, document,
action, target_id)`` returns ``document`` with its ``"proof"`` added; the evaluation report and the
award notice use them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit import cosign, log
from audit.models import AuditEntry
from crypto import logproof


def for_entry(session: Session, index: int, *, disclose: bool = False) -> dict | None:
    """The log proof of entry ``index``; ``disclose`` adds a sealed entry's content (only for those
    ``audit.seals`` lets read it, e.g. the bidder in its own receipt)."""
    entry = session.get(AuditEntry, index)
    if entry is None:
        return None
    cosigned = cosign.covering(session, index)
    if cosigned is None:
        cosign.publish_quietly(session)
        cosigned = cosign.covering(session, index)
        if cosigned is None:
            return None
    size = _size_of(cosigned.note)
    inclusion = log.inclusion_proof(session, index, size)
    content = bytes(entry.sealed) if disclose and entry.sealed is not None else None
    return logproof.make_proof(index, bytes(entry.leaf), cosigned.note, inclusion, content)


def _size_of(signed: str) -> int:
    from crypto import note

    return note.parse_checkpoint(note.parse_note(signed.encode()).text).size


def latest_index(session: Session, action: str, target_id: Any) -> int | None:
    return session.scalar(
        select(AuditEntry.index)
        .where(AuditEntry.action == action, AuditEntry.target_id == str(target_id))
        .order_by(AuditEntry.index.desc())
        .limit(1)
    )


def for_action(session: Session, action: str, target_id: Any) -> dict | None:
    index = latest_index(session, action, target_id)
    return None if index is None else for_entry(session, index)


def with_proof(session: Session, document: dict, action: str, target_id: Any) -> dict:
    """``document`` plus ``"proof"``: the log proof of its latest ``action`` entry on ``target_id``
    (e.g. ``evaluation.report_closed`` on the tender), or null while there is none yet."""
    return {**document, "proof": for_action(session, action, target_id)}
