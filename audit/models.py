"""The append-only audit log: leaves, interior tree nodes, the head, and checkpoint history."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, UtcDateTime


class AuditEntry(Base):
    """全程记实: one leaf of the Merkle log. ``leaf`` is the canonical JSON that was hashed.

    The other columns repeat fields of the leaf for filtering; ``audit verify`` trusts only ``leaf``.
    """

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_target", "target_type", "target_id", "created_at"),
        Index("ix_audit_entries_actor", "actor_id", "created_at"),
        Index("ix_audit_entries_action", "action", "created_at"),
        Index("ix_audit_entries_created", "created_at"),
        Index("ix_audit_entries_seal_scope", "seal_scope"),
    )

    index: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    action: Mapped[str] = mapped_column(String(64))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, default=None)
    actor_role: Mapped[str | None] = mapped_column(String(16), default=None)
    target_type: Mapped[str | None] = mapped_column(String(32), default=None)
    target_id: Mapped[str | None] = mapped_column(String(64), default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    leaf: Mapped[bytes] = mapped_column(LargeBinary)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    # A sealed entry (one that would tell who bid, or who evaluates, before its time): ``leaf`` holds
    # only a commitment, ``sealed`` the committed content with its nonce, shown once ``seal_scope``
    # is revealed (audit.seals). The filter columns above describe the content, for after the reveal.
    seal_scope: Mapped[str | None] = mapped_column(String(80), default=None)
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)


class AuditNode(Base):
    """Hash of the perfect subtree (level >= 1, index); lets proofs be served in O(log² n) lookups.

    One integer key, ``level << 56 | index``, so a proof's nodes are one primary-key IN query.
    """

    __tablename__ = "audit_nodes"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


NODE_SHIFT = 56


def node_key(level: int, index: int) -> int:
    return level << NODE_SHIFT | index


class AuditHead(Base):
    """The one row that serialises appends (its row lock) and holds the tree's right edge.

    Checkpoints for the exact head are signed on demand from ``frontier``; the history table keeps
    one every AUDIT_CHECKPOINT_EVERY entries or AUDIT_CHECKPOINT_SECONDS, whichever comes first.
    """

    __tablename__ = "audit_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    frontier: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    history_size: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), default=0)
    history_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class AuditCheckpoint(Base):
    """A signed checkpoint kept for later consistency checks (every N entries, see config)."""

    __tablename__ = "audit_checkpoints"

    size: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    note: Mapped[str] = mapped_column(Text)


class AuditCosigned(Base):
    """A checkpoint cosigned by the witness (c2sp.org/tlog-cosignature): the log's note with the
    witness's signature line added. Append-only like the log: what the witness vouched for stays."""

    __tablename__ = "audit_cosigned"

    size: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    note: Mapped[str] = mapped_column(Text)


class AuditSealScope(Base):
    """When the sealed entries of one scope (a tender's bids, a draw's names) become readable.

    ``reveal_at`` NULL means not yet known (a committee is named only once the result is determined);
    a scope with no row is sealed. The time can move (an amended deadline) until it has passed.
    """

    __tablename__ = "audit_seal_scopes"

    scope: Mapped[str] = mapped_column(String(80), primary_key=True)
    reveal_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
