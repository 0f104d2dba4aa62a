"""What an operator with the database owner's rights can do to the log, for the tamper tests."""

from __future__ import annotations

from sqlalchemy import text

from audit.models import NODE_SHIFT
from crypto import merkle

LOG_TABLES = ("audit_entries", "audit_nodes", "audit_checkpoints", "audit_cosigned")


def allow_tampering(session, *tables: str) -> None:
    """Drop the append-only triggers first, as such an operator would."""
    for table in tables or LOG_TABLES:
        if session.bind.dialect.name == "postgresql":
            session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only"))
        else:
            session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_update"))
            session.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_delete"))


def roll_back(session, size: int) -> None:
    """Turn the database into an older copy of itself, internally consistent: the log as it was at
    ``size`` entries (entries, tree nodes, kept and cosigned checkpoints, the head)."""
    allow_tampering(session)
    frontier = merkle.Frontier()
    hashes = session.execute(
        text('SELECT leaf_hash FROM audit_entries WHERE "index" < :n ORDER BY "index"'), {"n": size}
    ).scalars()
    for leaf_hash in hashes:
        frontier.append(bytes(leaf_hash))
    session.execute(text('DELETE FROM audit_entries WHERE "index" >= :n'), {"n": size})
    for (key,) in session.execute(text("SELECT id FROM audit_nodes")).all():
        level, index = key >> NODE_SHIFT, key & ((1 << NODE_SHIFT) - 1)
        if (index + 1) << level > size:
            session.execute(text("DELETE FROM audit_nodes WHERE id = :id"), {"id": key})
    session.execute(text("DELETE FROM audit_checkpoints WHERE size > :n"), {"n": size})
    session.execute(text("DELETE FROM audit_cosigned WHERE size > :n"), {"n": size})
    session.execute(
        text("UPDATE audit_head SET size = :n, frontier = :f, history_size = 0 WHERE id = 1"),
        {"n": size, "f": frontier.to_bytes()},
    )
    session.commit()
