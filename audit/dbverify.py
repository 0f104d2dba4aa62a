"""``audit verify`` against the database.

The log is cut into ranges at aligned boundaries; each range is scanned (by a worker process when
there are several cores: hashing short inputs holds the GIL) through a raw DB-API cursor, its indexes
checked for gaps and its leaves folded into perfect-subtree hashes with the hashing kept in C
(``merkle.subtree_root``). Blocks are cut at every signed checkpoint's size, so the parent, replaying
them into one frontier, compares the rebuilt root with each checkpoint and finally with the head.
When a signed root disagrees, the stored leaf hashes narrow the blame down to the first altered leaf.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from audit import log, seals
from audit.models import NODE_SHIFT, AuditCheckpoint, AuditCosigned, AuditEntry, AuditNode, node_key
from audit.verify import CheckpointProblem, Report, open_checkpoints
from core import clock
from core.db import make_engine
from crypto import merkle

FETCH = 16_384
PARALLEL_FROM = 200_000  # below this, starting processes costs more than it saves
_first = itemgetter(0)


@dataclass
class _Scan:
    blocks: list[tuple[int, bytes]]
    missing: tuple[int, int] | None = None  # (first missing index, the index found there instead)


def _cursor_rows(raw, start: int, end: int, columns: str = '"index", leaf') -> Iterator[list[tuple]]:
    cursor = raw.cursor()
    try:
        cursor.execute(
            f"SELECT {columns} FROM audit_entries "  # noqa: S608 (fixed text, integer bounds)
            f'WHERE "index" >= {int(start)} AND "index" < {int(end)} ORDER BY "index"'
        )
        while rows := cursor.fetchmany(FETCH):
            yield rows
    finally:
        cursor.close()


def _fold(blocks: list, batch: list[bytes], chunk_start: int, cuts: list[int], cut: int) -> int:
    """Fold one chunk of leaves into aligned blocks cut at ``cuts``; returns the next cut index."""
    position, chunk_end = chunk_start, chunk_start + len(batch)
    while position < chunk_end:
        target = cuts[cut] if cut < len(cuts) and cuts[cut] <= chunk_end else chunk_end
        for first, level in merkle.aligned_blocks(position, target):
            offset = first - chunk_start
            blocks.append((level, merkle.subtree_root(batch[offset : offset + (1 << level)])))
        position = target
        while cut < len(cuts) and cuts[cut] <= position:
            cut += 1
    return cut


def _as_bytes(values: list) -> list[bytes]:
    return values if not values or isinstance(values[0], bytes) else [bytes(v) for v in values]


def _scan(raw, start: int, end: int, cuts: list[int]) -> _Scan:
    """Fold leaves [start, end) into aligned perfect-subtree hashes, cut at each size in ``cuts``.

    The fast path reads only the leaves (the index column costs a fifth of the time) and counts them;
    a count that falls short means a gap, and the slow path then finds it by index.
    """
    blocks: list[tuple[int, bytes]] = []
    position = start
    cut = bisect.bisect_right(cuts, start)
    for rows in _cursor_rows(raw, start, end, "leaf"):
        batch = _as_bytes(list(map(_first, rows)))
        cut = _fold(blocks, batch, position, cuts, cut)
        position += len(batch)
    if position == end:
        return _Scan(blocks)
    expected = start
    for rows in _cursor_rows(raw, start, end, '"index"'):
        for (index,) in rows:
            if index != expected:
                return _Scan([], (expected, index))
            expected += 1
    return _Scan([], (expected, -1))


def _scan_in_worker(url: str, start: int, end: int, cuts: list[int]) -> _Scan:
    engine = make_engine(url)
    try:
        raw = engine.raw_connection()
        try:
            return _scan(raw, start, end, cuts)
        finally:
            raw.close()
    finally:
        engine.dispose()


def _ranges(size: int, parts: int) -> list[tuple[int, int]]:
    # Boundaries on multiples of 4096 keep the blocks large on both sides of a cut.
    bounds = [0] + [(size * k // parts) & ~4095 for k in range(1, parts)] + [size]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def leaves(session: Session) -> Iterator[bytes]:
    """Every leaf in order (for the export)."""
    for rows in _cursor_rows(session.connection().connection, 0, 2**62, "leaf"):
        yield from _as_bytes(list(map(_first, rows)))


def disclosed_contents(session: Session) -> Iterator[bytes]:
    """The content of every sealed entry already revealed, in log order (for the export)."""
    rows = session.execute(
        select(AuditEntry.sealed)
        .where(AuditEntry.seal_scope.in_(seals.revealed_scopes(clock.now())))
        .order_by(AuditEntry.index)
    )
    for (sealed,) in rows:
        if sealed is not None:  # revealed scopes hold sealed entries only
            yield bytes(sealed)


def stored_notes(session: Session) -> list[str]:
    """Every checkpoint the platform kept: its own history and those the witness cosigned."""
    kept = list(session.scalars(select(AuditCheckpoint.note).order_by(AuditCheckpoint.size)))
    return kept + list(session.scalars(select(AuditCosigned.note).order_by(AuditCosigned.size)))


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


def _first_unopened_seal(raw: Any) -> tuple[int, str] | None:
    """A sealed leaf commits to the content kept beside it (audit.seals): every one must open its
    commitment, at its own index and time, or what supervisors are shown at the reveal is not what
    was logged. Read through the raw cursor: at a million entries the ORM would cost more than the
    hashing."""
    cursor = raw.cursor()
    try:
        cursor.execute(
            'SELECT "index", leaf, sealed FROM audit_entries WHERE seal_scope IS NOT NULL ORDER BY "index"'
        )
        sha256, loads = hashlib.sha256, json.loads
        while rows := cursor.fetchmany(FETCH):
            for index, leaf, sealed in rows:
                public = loads(bytes(leaf))
                if sealed is None or sha256(sealed).hexdigest() != public.get("sealed"):
                    return index, "the sealed content does not match its commitment"
                content = loads(bytes(sealed))
                if content.get("i") != index or content.get("time") != public.get("time"):
                    return index, "the sealed content names another index or time"
    finally:
        cursor.close()
    return None


def _seals_in_worker(url: str) -> tuple[int, str] | None:
    engine = make_engine(url)
    try:
        raw = engine.raw_connection()
        try:
            return _first_unopened_seal(raw)
        finally:
            raw.close()
    finally:
        engine.dispose()


def _scans(session: Session, size: int, cuts: list[int], workers: int) -> Iterator[_Scan]:
    connection: Connection = session.connection()
    if workers <= 1 or size < PARALLEL_FROM:
        yield _scan(connection.connection, 0, size, cuts)
        return
    url = connection.engine.url.render_as_string(hide_password=False)
    ranges = _ranges(size, workers)
    with ProcessPoolExecutor(len(ranges), mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_scan_in_worker, url, a, b, cuts) for a, b in ranges]
        for future in futures:
            yield future.result()


def verify_database(session: Session, workers: int = 1, against: bytes | None = None) -> Report:
    """Check every stored signed checkpoint and the head against the tree rebuilt from the leaves, then
    what is served from other columns (``served_problem``).

    ``against``: a checkpoint the caller trusts (saved earlier, or from a receipt): the log must still
    hold its entries with the same root, or it was rolled back or rewritten."""
    try:
        checkpoints = open_checkpoints([n.encode() for n in stored_notes(session)], [log.verifier()])
        trusted = open_checkpoints([against], [log.verifier()]) if against is not None else {}
    except CheckpointProblem as problem:
        return Report(ok=False, problem=str(problem), bad_checkpoint=problem.size)
    head = log.head_frontier(session)
    for size, (root, text) in trusted.items():
        if size > max([head.size, *checkpoints]):
            return Report(
                ok=False,
                entries=head.size,
                bad_checkpoint=size,
                problem=f"rolled back: the trusted checkpoint has {size} entries, the log holds {head.size}",
            )
        if size in checkpoints and checkpoints[size][0] != root:
            return Report(
                ok=False,
                bad_checkpoint=size,
                problem=f"forked: the trusted checkpoint at size {size} and the log's give different roots",
            )
        checkpoints[size] = (root, text)
    sizes = sorted(checkpoints)
    total = max([head.size, *sizes])
    # The sealed contents are checked beside the tree scan, in their own process on a large log.
    seal_check = None
    if workers > 1 and total >= PARALLEL_FROM:
        url = session.connection().engine.url.render_as_string(hide_password=False)
        seal_pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
        seal_check = seal_pool.submit(_seals_in_worker, url)
        seal_pool.shutdown(wait=False)
    frontier = merkle.Frontier()
    next_cp = 0
    last_good = 0

    def blame(size: int, what: str) -> Report:
        altered = _first_altered_leaf(session, last_good, size)
        where = f"leaf {altered}: altered; " if altered is not None else ""
        return Report(
            ok=False,
            entries=size,
            checkpoints=next_cp,
            bad_leaf=altered,
            bad_range=(last_good, size),
            bad_checkpoint=size,
            problem=f"{where}{what}: first divergent range [{last_good}, {size})",
        )

    for scan in _scans(session, total, sizes, workers):
        for level, subtree in scan.blocks:
            frontier.append_subtree(level, subtree)
            while next_cp < len(sizes) and sizes[next_cp] == frontier.size:
                if frontier.root() != checkpoints[frontier.size][0]:
                    return blame(frontier.size, f"checkpoint at size {frontier.size} does not match")
                last_good = frontier.size
                next_cp += 1
        if scan.missing:  # a scan with a gap carries no blocks: they would be folded from shifted leaves
            missing, found = scan.missing
            after = f"the next stored index is {found}" if found >= 0 else "the log ends there"
            return Report(
                ok=False,
                entries=missing,
                checkpoints=next_cp,
                bad_leaf=missing,
                problem=f"leaf {missing}: missing ({after})",
            )
    if head.size != frontier.size or head.root() != frontier.root():
        return blame(frontier.size, f"the head (size {head.size}) does not match the stored entries")
    opening = (
        seal_check.result()
        if seal_check is not None
        else _first_unopened_seal(session.connection().connection)
    )
    if opening is not None:
        index, what = opening
        return Report(
            ok=False,
            entries=frontier.size,
            checkpoints=next_cp,
            bad_leaf=index,
            problem=f"leaf {index}: {what}",
        )
    if not sizes:
        return Report(
            ok=frontier.size == 0,
            entries=frontier.size,
            problem=None if frontier.size == 0 else "no signed checkpoint covers the log",
        )
    served = served_problem(session, frontier.size)
    if served is not None:
        bad_leaf, what = served  # no leaf when the disagreement is in a tree node
        return Report(
            ok=False, entries=frontier.size, checkpoints=len(sizes), bad_leaf=bad_leaf, problem=what
        )
    return Report(
        ok=True,
        entries=frontier.size,
        checkpoints=len(sizes),
        latest_size=sizes[-1],
        latest_root=checkpoints[sizes[-1]][0],
    )


# -- what is served from other columns than the leaf ---------------------------------------------------
# Inclusion proofs are built from the stored leaf hashes and tree nodes (audit.log._node_fetcher), and
# the supervisors' searches filter on columns beside the leaf: an altered node would break the proofs
# handed to bidders, an altered column would hide an entry from a search, while the leaves still verify.


def served_problem(session: Session, size: int) -> tuple[int | None, str] | None:
    """The first stored leaf hash, tree node or filter column that disagrees with the signed leaves."""
    leaf_hashes: list[bytes] = []
    for rows in _cursor_rows(session.connection().connection, 0, size, "leaf, leaf_hash"):
        leaves = _as_bytes([row[0] for row in rows])
        stored = _as_bytes([row[1] for row in rows])
        computed = list(map(merkle.leaf_hash, leaves))
        if computed != stored:
            offset = next(k for k, (a, b) in enumerate(zip(computed, stored, strict=True)) if a != b)
            index = len(leaf_hashes) + offset
            return (
                index,
                f"leaf {index}: the stored leaf hash is not the leaf's (inclusion proofs would fail)",
            )
        leaf_hashes.extend(computed)
    nodes = _node_problem(session, leaf_hashes)
    if nodes is not None:
        return nodes
    return _column_problem(session, size)


def _node_problem(session: Session, leaf_hashes: list[bytes]) -> tuple[int | None, str] | None:
    stored = dict(session.execute(select(AuditNode.id, AuditNode.hash)).all())
    level, hashes = 0, leaf_hashes
    while len(hashes) > 1:
        level += 1
        pairs = iter(hashes)
        hashes = [merkle.node_hash(left, right) for left, right in zip(pairs, pairs, strict=False)]
        for index, node in enumerate(hashes):
            key = node_key(level, index)
            found = stored.pop(key, None)
            if found is None or bytes(found) != node:
                what = "missing" if found is None else "altered"
                first = index << level
                return first, (
                    f"tree node at level {level}, index {index} (leaves {first}-{first + (1 << level) - 1}) "
                    f"is {what}: inclusion proofs served from it would fail"
                )
    if stored:
        key = min(stored)
        return None, f"a tree node beyond the log is stored (level {key >> NODE_SHIFT})"
    return None


_COLUMNS = '"index", created_at, action, actor_id, actor_role, target_type, target_id, ip, leaf, sealed'


def _column_problem(session: Session, size: int) -> tuple[int, str] | None:
    """Every column a search filters on must say what the signed leaf says (for a sealed entry: what its
    content says, which ``_first_unopened_seal`` has already matched against the commitment)."""
    for rows in _cursor_rows(session.connection().connection, 0, size, _COLUMNS):
        for index, created_at, action, actor_id, role, target_type, target_id, ip, leaf, sealed in rows:
            content = json.loads(bytes(sealed) if sealed is not None else bytes(leaf))
            target = content.get("target") or {}
            when = _as_time(created_at)
            expected = {
                "time": (content.get("time"), when),
                "action": (content.get("action"), action),
                "actor": (content.get("actor"), _as_text(actor_id)),
                "role": (content.get("role"), role),
                "target type": (target.get("type"), target_type),
                "target id": (target.get("id"), target_id),
                "address": (content.get("ip"), ip),
            }
            for name, (signed, column) in expected.items():
                if signed != column:
                    return index, (
                        f"leaf {index}: the {name} column says {column!r}, the signed leaf {signed!r} "
                        "(searches filtered on it would hide or misplace the entry)"
                    )
    return None


def _as_text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes | memoryview):
        import uuid

        return str(uuid.UUID(bytes=bytes(value)))
    text = str(value)
    if len(text) == 32 and "-" not in text:  # SQLite keeps UUIDs as 32 hex digits
        import uuid

        return str(uuid.UUID(text))
    return text


def _as_time(value) -> str | None:
    from datetime import UTC, datetime

    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
