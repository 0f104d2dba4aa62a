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
import hashlib
import json
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from flask import current_app
from sqlalchemy import BigInteger, LargeBinary, Table, bindparam, event, insert, select, text
from sqlalchemy.orm import Session

from audit.models import AuditCheckpoint, AuditEntry, AuditHead, AuditNode, node_key
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
    history_at: datetime | None
    raw: Any  # the session's own DB-API connection, for this transaction only
    statements: _Statements
    appended: int = 0


@dataclass(frozen=True)
class Recorded:
    """What ``record()`` appended: its index (e.g. for a receipt) and leaf hash."""

    index: int
    leaf_hash: bytes
    time: datetime


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


# The append path runs on the DB-API cursor of the session's own connection (same transaction), with
# statements compiled once per dialect and SQLAlchemy's own type processors applied to the values:
# SQLAlchemy's per-statement machinery costs more than the append itself.
# The tables themselves (Core statements on the hot path): declarative gives them as FromClause.
_ENTRIES = cast(Table, AuditEntry.__table__)
_NODES = cast(Table, AuditNode.__table__)
_HEAD = cast(Table, AuditHead.__table__)
_CHECKPOINTS = cast(Table, AuditCheckpoint.__table__)


class _Statement:
    def __init__(self, statement: Any, dialect: Any) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = str(compiled)
        self.positional = compiled.positiontup
        self.processors = {name: bind.type.bind_processor(dialect) for name, bind in compiled.binds.items()}

    def params(self, values: dict[str, Any]) -> Any:
        processed = {}
        for name, value in values.items():
            processor = self.processors.get(name)
            processed[name] = processor(value) if processor and value is not None else value
        if self.positional is not None:
            return tuple(processed[name] for name in self.positional)
        return processed


class _Statements:
    def __init__(self, dialect: Any) -> None:
        self.lock = _Statement(
            text(
                "UPDATE audit_head SET size = size WHERE id = 1 "
                "RETURNING size, frontier, history_size, history_at"
            ),
            dialect,
        )
        self.entry = _Statement(_ENTRIES.insert(), dialect)
        self.node = _Statement(_NODES.insert(), dialect)
        self.head = _Statement(
            text("UPDATE audit_head SET size = :size, frontier = :frontier WHERE id = 1").bindparams(
                bindparam("size", type_=BigInteger()), bindparam("frontier", type_=LargeBinary())
            ),
            dialect,
        )


_COMPILED: dict[str, _Statements] = {}


def _statements(session: Session) -> _Statements:
    dialect = session.get_bind().dialect
    compiled = _COMPILED.get(dialect.name)
    if compiled is None:
        compiled = _COMPILED[dialect.name] = _Statements(dialect)
    return compiled


def _begin(session: Session) -> _TxState:
    state = session.info.get(_STATE)
    if state is not None:
        return state
    # The no-op UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) before we read.
    statements = _statements(session)
    raw = session.connection().connection.driver_connection
    if raw is None:  # a connection always has its driver's while it is open
        raise RuntimeError("the database connection is closed")
    cursor = raw.cursor()
    cursor.execute(statements.lock.sql)
    row = cursor.fetchone()
    cursor.close()
    if row is None:
        session.connection().execute(insert(_HEAD).values(id=1, size=0, frontier=b"", history_size=0))
        row = (0, b"", 0, None)
    history_at = row[3]
    if isinstance(history_at, str):  # SQLite keeps timestamps as text
        history_at = datetime.fromisoformat(history_at)
    if history_at is not None and history_at.tzinfo is None:
        history_at = history_at.replace(tzinfo=UTC)
    state = _TxState(merkle.Frontier.from_bytes(row[0], bytes(row[1])), row[2], history_at, raw, statements)
    session.info[_STATE] = state
    return state


def record(
    session: Session,
    actor: Any,
    action: str,
    target: Any = None,
    data: dict | None = None,
    ip: str | None = None,
    *,
    sealed: str | None = None,
) -> Recorded:
    """Append one entry describing ``action`` by ``actor`` on ``target``, in the caller's transaction.

    ``target`` is an ORM object with an ``id`` (its table name is the type), a ``(type, id)`` pair, or
    None. ``data`` must be JSON made of strings, integers, booleans and null (no secrets!).

    ``sealed`` names a seal scope (``audit.seals``) for an entry that must not be read before its time
    (who bid, before the deadline: R-B4; who evaluates, before the result: R-E4). Its leaf then holds
    only the time and a commitment to the content; the content is kept beside it and shown once the
    scope is revealed, when anyone can check it against the commitment in the signed tree.
    """
    state = _begin(session)
    index = state.frontier.size
    now = clock.now()
    target_type, target_id = _target(target)
    time = now.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    leaf_obj = {
        "v": 1,
        "i": index,
        "time": time,
        **_actor_fields(actor),
        "ip": ip,
        "action": action,
        "target": {"type": target_type, "id": target_id} if target_type else None,
        "data": data or {},
    }
    content = None
    try:
        if sealed is None:
            leaf = canonical_json(leaf_obj)
        else:
            content, leaf = seal_leaf(leaf_obj)
    except ValueError as exc:
        raise Invalid(code="audit_data_invalid", details={"reason": str(exc)}) from exc
    leaf_hash = merkle.leaf_hash(leaf)
    statements, cursor = state.statements, state.raw.cursor()
    cursor.execute(
        statements.entry.sql,
        statements.entry.params(
            {
                "index": index,
                "created_at": now,
                "action": action,
                "actor_id": getattr(actor, "id", None),
                "actor_role": leaf_obj["role"],
                "target_type": target_type,
                "target_id": target_id,
                "ip": ip,
                "leaf": leaf,
                "leaf_hash": leaf_hash,
                "seal_scope": sealed,
                "sealed": content,
            }
        ),
    )
    completed = state.frontier.append(leaf_hash)
    for level, position, node in completed:
        cursor.execute(
            statements.node.sql, statements.node.params({"id": node_key(level, position), "hash": node})
        )
    cursor.close()
    state.appended += 1
    return Recorded(index, leaf_hash, now)


def seal_leaf(leaf_obj: dict[str, Any]) -> tuple[bytes, bytes]:
    """The content (the leaf as it would have been, plus a random nonce that makes the commitment
    hiding) and the public leaf that commits to it: ``{"v", "i", "time", "sealed": sha256 hex}``."""
    content = canonical_json({**leaf_obj, "nonce": secrets.token_hex(16)})
    public = {
        "v": 1,
        "i": leaf_obj["i"],
        "time": leaf_obj["time"],
        "sealed": hashlib.sha256(content).hexdigest(),
    }
    return content, canonical_json(public)


def _target(target: Any) -> tuple[str | None, str | None]:
    if target is None:
        return None, None
    if isinstance(target, tuple):
        return str(target[0]), str(target[1])
    return target.__tablename__, str(target.id)


def checkpoint_text(size: int, root: bytes) -> str:
    return note.format_checkpoint(current_app.config["AUDIT_ORIGIN"], size, root)


def sign_checkpoint(size: int, root: bytes) -> str:
    return note.sign_note(checkpoint_text(size, root), signer()).decode()


@event.listens_for(Session, "before_commit")
def _seal(session: Session) -> None:
    state: _TxState | None = session.info.pop(_STATE, None)
    if state is None:
        return
    if state.appended == 0:
        return
    size = state.frontier.size
    now = clock.now()
    values: dict[str, Any] = {"size": size, "frontier": state.frontier.to_bytes()}
    config = current_app.config
    due = (
        state.history_size == 0
        or size - state.history_size >= config["AUDIT_CHECKPOINT_EVERY"]
        or state.history_at is None
        or (now - state.history_at).total_seconds() >= config["AUDIT_CHECKPOINT_SECONDS"]
    )
    if due:
        connection = session.connection()
        note_text = sign_checkpoint(size, state.frontier.root())
        connection.execute(
            _CHECKPOINTS.insert(),
            {"size": size, "created_at": now, "note": note_text},
        )
        connection.execute(
            _HEAD.update().where(_HEAD.c.id == 1).values(**values, history_size=size, history_at=now)
        )
        return
    statement = state.statements.head
    cursor = state.raw.cursor()
    cursor.execute(statement.sql, statement.params(values))
    cursor.close()


@event.listens_for(Session, "after_rollback")
def _discard(session: Session) -> None:
    session.info.pop(_STATE, None)


# -- reading -------------------------------------------------------------------------------------------


def head(session: Session) -> AuditHead | None:
    return session.get(AuditHead, 1)


def head_frontier(session: Session) -> merkle.Frontier:
    row = session.execute(select(AuditHead.size, AuditHead.frontier).where(AuditHead.id == 1)).first()
    return merkle.Frontier.from_bytes(row[0], row[1]) if row else merkle.Frontier()


def current_checkpoint(session: Session) -> tuple[int, str]:
    """A checkpoint of the exact head, signed now (readers always get one covering every entry)."""
    frontier = head_frontier(session)
    return frontier.size, sign_checkpoint(frontier.size, frontier.root())


def keep_checkpoint(session: Session) -> AuditCheckpoint | None:
    """Store a checkpoint of the head in the history (before an export, or from the beat job)."""
    frontier = head_frontier(session)
    if frontier.size == 0:
        return None
    existing = session.get(AuditCheckpoint, frontier.size)
    if existing:
        return existing
    now = clock.now()
    kept = AuditCheckpoint(
        size=frontier.size, created_at=now, note=sign_checkpoint(frontier.size, frontier.root())
    )
    session.add(kept)
    session.execute(_HEAD.update().where(_HEAD.c.id == 1).values(history_size=frontier.size, history_at=now))
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
            keys = {node_key(lv, ix): (lv, ix) for lv, ix in inner}
            for key, h in session.execute(select(AuditNode.id, AuditNode.hash).where(AuditNode.id.in_(keys))):
                found[keys[key]] = h
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


def content(entry: AuditEntry) -> dict[str, Any]:
    """What the entry says: its leaf, or for a sealed entry the committed content (show it only to
    those ``audit.seals`` lets read it)."""
    return json.loads(entry.sealed if entry.sealed is not None else entry.leaf)


def entry_json(entry: AuditEntry) -> dict[str, Any]:
    """An entry for the API. A sealed entry also carries ``sealed``, the content whose SHA-256 its
    leaf commits to (nonce included, so that anyone can check it); callers list only readable ones."""
    out = {"index": entry.index, "leaf": json.loads(entry.leaf), "leaf_hash": b64(entry.leaf_hash)}
    if entry.sealed is not None:
        out["sealed"] = json.loads(entry.sealed)
    return out


def actor_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError as exc:
        raise Invalid(code="invalid_actor", details={"actor": value}) from exc
