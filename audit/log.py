"""Appending to the audit log and proving things about it.

``record()`` adds a leaf in the caller's transaction. The first append of a transaction takes the
head row's lock (an UPDATE), so appends are serialised and indexes have no gaps; later appends in the
same transaction reuse the state kept in ``session.info``. Just before the commit the head is
rewritten with the new frontier and a freshly signed checkpoint, and every AUDIT_CHECKPOINT_EVERY
entries a checkpoint is also kept in the history table. A rollback discards all of it together with
the change the entries describe.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from flask import current_app
from sqlalchemy import event, insert, select, text, tuple_
from sqlalchemy.orm import Session

from audit.models import AuditCheckpoint, AuditEntry, AuditHead, AuditNode
from core import clock
from core.errors import Invalid
from core.keys import instance_secret
from crypto import merkle, note
from crypto.canonical import canonical_json

_STATE = "sunbid.audit"


@dataclass
class _TxState:
    frontier: merkle.Frontier
    history_size: int
    appended: int = 0


def signer() -> note.Signer:
    app = current_app
    cached = app.extensions.get("sunbid.audit_signer")
    if cached is None:
        key = app.config.get("AUDIT_SIGNER_KEY") or instance_secret(
            app.config["INSTANCE_PATH"],
            "audit_signer",
            lambda: note.generate_signer(app.config["AUDIT_ORIGIN"]).key_string(),
        )
        cached = note.Signer.from_key_string(key)
        app.extensions["sunbid.audit_signer"] = cached
    return cached


def verifier() -> note.Verifier:
    return signer().verifier()


def _actor_fields(actor: Any) -> dict[str, Any]:
    if actor is None:
        return {"actor": None, "role": None, "org": None}
    org = getattr(actor, "organization_id", None)
    return {"actor": str(actor.id), "role": str(actor.role), "org": str(org) if org else None}


def _begin(session: Session) -> _TxState:
    state = session.info.get(_STATE)
    if state is not None:
        return state
    # The no-op UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) before we read.
    row = session.execute(
        text("UPDATE audit_head SET size = size WHERE id = 1 RETURNING size, frontier, history_size")
    ).first()
    if row is None:
        session.execute(insert(AuditHead).values(id=1, size=0, frontier=b"", history_size=0))
        row = (0, b"", 0)
    state = _TxState(frontier=merkle.Frontier.from_bytes(row[0], row[1]), history_size=row[2])
    session.info[_STATE] = state
    return state


def record(
    session: Session,
    actor: Any,
    action: str,
    target: Any = None,
    data: dict | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Append one entry describing ``action`` by ``actor`` on ``target``, in the caller's transaction.

    ``target`` is an ORM object with an ``id`` (its table name is the type), a ``(type, id)`` pair, or
    None. ``data`` must be JSON made of strings, integers, booleans and null (no secrets!).
    """
    state = _begin(session)
    index = state.frontier.size
    now = clock.now()
    target_type, target_id = _target(target)
    leaf_obj = {
        "v": 1,
        "i": index,
        "time": now.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z"),
        **_actor_fields(actor),
        "ip": ip,
        "action": action,
        "target": {"type": target_type, "id": target_id} if target_type else None,
        "data": data or {},
    }
    try:
        leaf = canonical_json(leaf_obj)
    except ValueError as exc:
        raise Invalid(code="audit_data_invalid", details={"reason": str(exc)}) from exc
    leaf_hash = merkle.leaf_hash(leaf)
    entry = AuditEntry(
        index=index,
        created_at=now,
        action=action,
        actor_id=getattr(actor, "id", None),
        actor_role=leaf_obj["role"],
        target_type=target_type,
        target_id=target_id,
        ip=ip,
        leaf=leaf,
        leaf_hash=leaf_hash,
    )
    session.add(entry)
    completed = state.frontier.append(leaf_hash)
    if completed:
        session.execute(insert(AuditNode), [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in completed])
    state.appended += 1
    return entry


def _target(target: Any) -> tuple[str | None, str | None]:
    if target is None:
        return None, None
    if isinstance(target, tuple):
        return str(target[0]), str(target[1])
    return target.__tablename__, str(target.id)


def checkpoint_text(size: int, root: bytes) -> str:
    return note.format_checkpoint(current_app.config["AUDIT_ORIGIN"], size, root)


@event.listens_for(Session, "before_commit")
def _seal(session: Session) -> None:
    state: _TxState | None = session.info.pop(_STATE, None)
    if state is None or state.appended == 0:
        return
    session.flush()
    size = state.frontier.size
    signed = note.sign_note(checkpoint_text(size, state.frontier.root()), signer()).decode()
    history_size = state.history_size
    if size - history_size >= current_app.config["AUDIT_CHECKPOINT_EVERY"] or history_size == 0:
        session.add(AuditCheckpoint(size=size, created_at=clock.now(), note=signed))
        history_size = size
    session.execute(
        AuditHead.__table__.update()
        .where(AuditHead.id == 1)
        .values(size=size, frontier=state.frontier.to_bytes(), checkpoint=signed, history_size=history_size)
    )


@event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    session.info.pop(_STATE, None)


# -- reading -------------------------------------------------------------------------------------------


def head(session: Session) -> AuditHead | None:
    return session.get(AuditHead, 1)


def keep_checkpoint(session: Session) -> AuditCheckpoint | None:
    """Store the head's checkpoint in the history (e.g. before an export or on a supervisor's request)."""
    row = head(session)
    if row is None or row.size == 0 or row.checkpoint is None:
        return None
    existing = session.get(AuditCheckpoint, row.size)
    if existing:
        return existing
    kept = AuditCheckpoint(size=row.size, created_at=clock.now(), note=row.checkpoint)
    session.add(kept)
    row.history_size = row.size
    session.flush()
    return kept


def _node_fetcher(session: Session):
    def get_nodes(wanted: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        found: dict[tuple[int, int], bytes] = {}
        leaves = [ix for lv, ix in wanted if lv == 0]
        inner = [(lv, ix) for lv, ix in wanted if lv > 0]
        if leaves:
            for ix, h in session.execute(
                select(AuditEntry.index, AuditEntry.leaf_hash).where(AuditEntry.index.in_(leaves))
            ):
                found[(0, ix)] = h
        if inner:
            for lv, ix, h in session.execute(
                select(AuditNode.level, AuditNode.idx, AuditNode.hash).where(
                    tuple_(AuditNode.level, AuditNode.idx).in_(inner)
                )
            ):
                found[(lv, ix)] = h
        missing = wanted - found.keys()
        if missing:
            raise LookupError(f"audit tree nodes missing: {sorted(missing)[:5]}")
        return found

    return get_nodes


def _check_size(session: Session, size: int) -> int:
    current = head(session)
    current_size = current.size if current else 0
    if size < 0 or size > current_size:
        raise Invalid(code="size_out_of_range", details={"size": size, "tree_size": current_size})
    return current_size


def inclusion_proof(session: Session, index: int, size: int) -> list[bytes]:
    _check_size(session, size)
    if not 0 <= index < size:
        raise Invalid(code="index_out_of_range", details={"index": index, "size": size})
    return merkle.inclusion_proof(index, size, _node_fetcher(session))


def consistency_proof(session: Session, old: int, new: int) -> list[bytes]:
    _check_size(session, new)
    if not 0 <= old <= new:
        raise Invalid(code="size_out_of_range", details={"from": old, "to": new})
    return merkle.consistency_proof(old, new, _node_fetcher(session))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    import json

    return {"index": entry.index, "leaf": json.loads(entry.leaf), "leaf_hash": b64(entry.leaf_hash)}


def actor_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError as exc:
        raise Invalid(code="invalid_actor", details={"actor": value}) from exc
