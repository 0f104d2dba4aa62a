"""``audit verify`` against the database: the offline verifier's core, fed from stored rows.

Rows are streamed in index order through a raw DB-API cursor (no ORM objects: a million rows must
verify in seconds) into ``audit.verify.verify_leaves``, the same code that judges an export. When a
signed root disagrees, the stored leaf hashes narrow the blame down to the first altered leaf.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from audit import log
from audit.models import AuditCheckpoint, AuditEntry, AuditHead
from audit.verify import CheckpointProblem, Report, open_checkpoints, verify_leaves
from crypto import merkle

FETCH = 10_000


def _leaves(session: Session) -> Iterator[bytes]:
    cursor = session.connection().connection.cursor()  # DB-API cursor: no per-row ORM cost
    try:
        cursor.execute('SELECT leaf FROM audit_entries ORDER BY "index"')
        while rows := cursor.fetchmany(FETCH):
            for (leaf,) in rows:
                yield bytes(leaf)
    finally:
        cursor.close()


def stored_notes(session: Session) -> list[str]:
    notes = list(session.scalars(select(AuditCheckpoint.note).order_by(AuditCheckpoint.size)))
    head = session.get(AuditHead, 1)
    if head is not None and head.checkpoint and head.checkpoint not in notes:
        notes.append(head.checkpoint)
    return notes


def _first_altered_leaf(session: Session, start: int, end: int) -> int | None:
    rows = session.execute(
        select(AuditEntry.index, AuditEntry.leaf, AuditEntry.leaf_hash)
        .where(AuditEntry.index >= start, AuditEntry.index < end)
        .order_by(AuditEntry.index)
    )
    for index, leaf, stored in rows:
        if merkle.leaf_hash(leaf) != stored:
            return index
    return None


def verify_database(session: Session) -> Report:
    try:
        checkpoints = open_checkpoints([n.encode() for n in stored_notes(session)], [log.verifier()])
    except CheckpointProblem as problem:
        return Report(ok=False, problem=str(problem), bad_checkpoint=problem.size)
    report = verify_leaves(_leaves(session), checkpoints)
    if not report.ok and report.bad_range:
        altered = _first_altered_leaf(session, *report.bad_range)
        if altered is not None:
            return dataclasses.replace(report, bad_leaf=altered,
                                       problem=f"leaf {altered}: altered ({report.problem})")
    head = session.get(AuditHead, 1)
    if report.ok and head is not None and head.size != report.entries:
        return Report(ok=False, entries=report.entries, bad_leaf=min(head.size, report.entries),
                      problem=f"the head records {head.size} entries but {report.entries} are stored")
    return report
