"""``audit verify`` against the database.

The log is cut into ranges at aligned boundaries; each range is checked in one pass (audit.dbscan; by a
worker process when there are several cores: hashing short inputs holds the GIL): its indexes for gaps,
its stored leaf hashes, tree nodes, filter columns and sealed contents, and its leaves folded into
perfect-subtree hashes cut at every signed checkpoint's size. The parent, replaying those into one
frontier, compares the rebuilt root with each checkpoint and finally with the head, and checks the few
tree nodes above the ranges'. When a signed root disagrees, the stored leaf hashes narrow the blame
down to the first altered leaf.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from audit import dbscan, log, seals
from audit.models import NODE_SHIFT, AuditCheckpoint, AuditCosigned, AuditEntry, node_key
from audit.verify import CheckpointProblem, Report, open_checkpoints
from core import clock
from core.db import make_engine
from crypto import merkle

PARALLEL_FROM = 200_000  # below this, starting processes costs more than it saves


def _scan_in_worker(url: str, start: int, end: int, cuts: list[int]) -> dbscan.Scan:
    engine = make_engine(url)
    try:
        raw = engine.raw_connection()
        try:
            return dbscan.scan(raw, start, end, cuts, engine.dialect.name)
        finally:
            raw.close()
    finally:
        engine.dispose()


def _ranges(size: int, parts: int) -> list[tuple[int, int]]:
    # Boundaries on multiples of 2**TOP_LEVEL keep the blocks large on both sides of a cut, and every
    # tree node up to that level inside one range (dbscan).
    align = ~((1 << dbscan.TOP_LEVEL) - 1)
    bounds = [0] + [(size * k // parts) & align for k in range(1, parts)] + [size]
    return [(a, b) for a, b in itertools.pairwise(bounds) if b > a]


def leaves(session: Session) -> Iterator[bytes]:
    """Every leaf in order (for the export)."""
    for rows in dbscan.cursor_rows(session.connection().connection, 0, 2**62, "leaf"):
        yield from dbscan.as_bytes([row[0] for row in rows])


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


def _scans(session: Session, size: int, cuts: list[int], workers: int) -> Iterator[dbscan.Scan]:
    connection: Connection = session.connection()
    if workers <= 1 or size < PARALLEL_FROM:
        yield dbscan.scan(connection.connection, 0, size, cuts, connection.dialect.name)
        return
    url = connection.engine.url.render_as_string(hide_password=False)
    ranges = _ranges(size, workers)
    with ProcessPoolExecutor(len(ranges), mp_context=multiprocessing.get_context("fork")) as pool:
        futures = [pool.submit(_scan_in_worker, url, a, b, cuts) for a, b in ranges]
        for future in futures:
            yield future.result()


@dataclass
class _Served:
    """The first problem of each kind the ranges found in what is served beside the leaves, in log
    order, and the ranges' TOP_LEVEL nodes, from which the parent checks the tree above them."""

    leaf_hash: int | None = None
    node: dbscan.Problem | None = None
    seal: tuple[int, str] | None = None
    column: dbscan.Problem | None = None
    top: list[bytes] = field(default_factory=list)

    def add(self, scan: dbscan.Scan) -> None:
        self.leaf_hash = self.leaf_hash if self.leaf_hash is not None else scan.leaf_hash
        self.node = self.node or scan.node
        self.seal = self.seal or scan.seal
        self.column = self.column or scan.column
        self.top.extend(scan.top)


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
    frontier = merkle.Frontier()
    served = _Served()
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
        served.add(scan)
    if head.size != frontier.size or head.root() != frontier.root():
        return blame(frontier.size, f"the head (size {head.size}) does not match the stored entries")
    if served.seal is not None:
        index, what = served.seal
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
    disagreement = served_problem(session, frontier.size, served)
    if disagreement is not None:
        bad_leaf, what = disagreement  # no leaf when the disagreement is in a tree node
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
# The ranges check them as they go (dbscan); what is left here is the tree above the ranges' nodes.


def served_problem(session: Session, size: int, served: _Served) -> dbscan.Problem | None:
    """The first stored leaf hash, tree node or filter column that disagrees with the signed leaves."""
    if served.leaf_hash is not None:
        index = served.leaf_hash
        return index, f"leaf {index}: the stored leaf hash is not the leaf's (inclusion proofs would fail)"
    raw = session.connection().connection
    nodes = served.node or _upper_node_problem(raw, served.top) or _node_beyond(raw, size)
    return nodes or served.column


def _upper_node_problem(raw: Any, top: list[bytes]) -> dbscan.Problem | None:
    """The nodes above TOP_LEVEL, rebuilt from the ranges' TOP_LEVEL nodes (all of them, in order)."""
    for level, (first, nodes) in enumerate(dbscan.levels_of(0, top)[1:], dbscan.TOP_LEVEL + 1):
        problem = dbscan.node_problem(raw, level, first, nodes)
        if problem is not None:
            return problem
    return None


def _node_beyond(raw: Any, size: int) -> dbscan.Problem | None:
    """Every node the tree has is checked by now; any other stored node claims leaves the log lacks."""
    levels = range(1, size.bit_length())
    cursor = raw.cursor()
    try:
        cursor.execute("SELECT count(*) FROM audit_nodes")
        (count,) = cursor.fetchone()
        if count == sum(size >> level for level in levels):
            return None
        inside = " OR ".join(
            f"(id >= {node_key(level, 0)} AND id < {node_key(level, size >> level)})" for level in levels
        )
        cursor.execute(f"SELECT min(id) FROM audit_nodes WHERE NOT ({inside or '0 = 1'})")  # noqa: S608
        (key,) = cursor.fetchone()
    finally:
        cursor.close()
    return None, f"a tree node beyond the log is stored (level {key >> NODE_SHIFT})"


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
