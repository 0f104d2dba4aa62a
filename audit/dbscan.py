"""One range of the log, checked in a single pass (``audit verify``; audit.dbverify runs one per core).

Each row is read once through the raw DB-API cursor in large batches: its leaf is hashed once, and
that hash serves the stored leaf hash, the tree levels and the checkpoint blocks alike. The tree is then
rebuilt level by level, bottom up, and each level compared with the stored nodes of the range in one
query (list equality, in C). The filter columns are compared with the signed leaf (or sealed content)
by SQLite itself, which names suspects; on other databases row by row in Python, cheap tests first.
Either way only a row that fails them goes through the exact comparison that names the problem.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import operator
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import orjson

from audit.models import node_key
from crypto import merkle

FETCH = 16_384
# Ranges start on multiples of 2**TOP_LEVEL, so every node up to that level lies inside one range: the
# worker checks those, the parent the few above from the ranges' TOP_LEVEL hashes (``top``).
TOP_LEVEL = 12

_LEAF_CTX = hashlib.sha256(b"\x00")  # copying a primed context skips OpenSSL's per-call lookup
_NODE_CTX = hashlib.sha256(b"\x01")

# What the tree and the seal check need, then the filter columns (read here only where the database
# cannot compare them itself: ``_sqlite_suspects``).
LEAF_COLUMNS = "leaf, leaf_hash, sealed, seal_scope"
COLUMNS = f"{LEAF_COLUMNS}, created_at, action, actor_id, actor_role, target_type, target_id, ip"
SEALED, SEAL_SCOPE = 2, 3

Problem = tuple[int | None, str]  # (first leaf concerned, what is wrong)


@dataclass
class Scan:
    """What one range holds: aligned subtree hashes cut at the checkpoint sizes (for the parent's
    frontier), its complete TOP_LEVEL nodes, and the first problem of each kind found in it."""

    blocks: list[tuple[int, bytes]] = field(default_factory=list)
    top: list[bytes] = field(default_factory=list)
    missing: tuple[int, int] | None = None  # (first missing index, the index found there instead)
    leaf_hash: int | None = None  # first leaf whose stored hash is not its hash
    node: Problem | None = None
    seal: tuple[int, str] | None = None
    column: Problem | None = None


def as_bytes(values: list) -> list[bytes]:
    """PostgreSQL's driver hands blobs back as memoryview; SQLite's as bytes."""
    return values if not values or isinstance(values[0], bytes) else [bytes(v) for v in values]


def cursor_rows(raw: Any, start: int, end: int, columns: str) -> Iterator[list[tuple]]:
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


def leaf_hashes(leaves: list[bytes]) -> list[bytes]:
    copy = _LEAF_CTX.copy
    out: list[bytes] = []
    push = out.append
    for leaf in leaves:
        ctx = copy()
        ctx.update(leaf)
        push(ctx.digest())
    return out


def _parents(first: int, hashes: list[bytes]) -> tuple[int, list[bytes]]:
    """The next level up of nodes ``first, first + 1, ...``: only parents whose both children are here
    (a child whose sibling lies in another range is left to the parent process)."""
    if first & 1:
        first, hashes = first + 1, hashes[1:]
    copy = _NODE_CTX.copy
    out: list[bytes] = []
    push = out.append
    pairs = iter(hashes)
    for left in pairs:
        right = next(pairs, None)
        if right is None:
            break
        ctx = copy()
        ctx.update(left)
        ctx.update(right)
        push(ctx.digest())
    return first >> 1, out


def levels_of(first: int, leaf_level: list[bytes]) -> list[tuple[int, list[bytes]]]:
    """Every level of the nodes lying wholly within the leaves ``first, first + 1, ...``: (first index,
    hashes) per level, from the leaves up."""
    levels = [(first, leaf_level)]
    while len(levels[-1][1]) > 1:
        up = _parents(*levels[-1])
        if not up[1]:
            break
        levels.append(up)
    return levels


def node_problem(raw: Any, level: int, first: int, hashes: list[bytes]) -> Problem | None:
    """Compare the stored nodes ``(level, first ...)`` with the rebuilt ones in one query."""
    cursor = raw.cursor()
    try:
        low, high = node_key(level, first), node_key(level, first + len(hashes))
        cursor.execute(
            f"SELECT id, hash FROM audit_nodes WHERE id >= {low} AND id < {high} ORDER BY id"  # noqa: S608
        )
        rows = cursor.fetchall()
    finally:
        cursor.close()
    stored = as_bytes([row[1] for row in rows])
    if stored == hashes:
        return None
    found = {row[0]: bytes(row[1]) for row in rows}
    for offset, node in enumerate(hashes):
        index = first + offset
        have = found.get(node_key(level, index))
        if have != node:
            what = "missing" if have is None else "altered"
            leaf = index << level
            return leaf, (
                f"tree node at level {level}, index {index} (leaves {leaf}-{leaf + (1 << level) - 1}) "
                f"is {what}: inclusion proofs served from it would fail"
            )
    return None  # pragma: no cover (unequal lists differ somewhere)


def _cut_blocks(
    levels: list[tuple[int, list[bytes]]], start: int, end: int, cuts: list[int]
) -> list[tuple[int, bytes]]:
    """The range as aligned perfect subtrees, cut at every checkpoint size, read off the levels."""
    bounds = [start, *(c for c in cuts if start < c < end), end]
    blocks = []
    for a, b in itertools.pairwise(bounds):
        for first_leaf, level in merkle.aligned_blocks(a, b):
            level_first, hashes = levels[level]
            blocks.append((level, hashes[(first_leaf >> level) - level_first]))
    return blocks


# -- the filter columns ----------------------------------------------------------------------------------


def _leaf_time(created_at: Any) -> str | None:
    """A timestamp column as the leaf writes it (``2026-01-02T03:04:05.000006Z``)."""
    if created_at is None:
        return None
    if isinstance(created_at, str):
        created_at = datetime.fromisoformat(created_at)
    if created_at.tzinfo is None:
        created_at = created_at.replace(tzinfo=UTC)
    return created_at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _actor_text(value: Any) -> str | None:
    """An actor column as the leaf writes it (SQLite keeps UUIDs as 32 hex digits, PostgreSQL as uuid)."""
    if value is None:
        return None
    if isinstance(value, bytes | memoryview):
        return str(UUID(bytes=bytes(value)))
    text = str(value)
    return str(UUID(text)) if len(text) == 32 and "-" not in text else text


def _same_time(signed: Any, column: Any) -> bool:
    # SQLite keeps the time as "2026-01-02 03:04:05.000006+00:00": compared as text when it is exactly
    # the leaf's own time in that form (record() writes every leaf's time as YYYY-MM-DDTHH:MM:SS.ffffffZ);
    # anything else (PostgreSQL's datetime, a time with no microseconds) goes through the parser.
    if (
        isinstance(column, str)
        and isinstance(signed, str)
        and len(signed) == 27
        and column == f"{signed[:10]} {signed[11:26]}+00:00"
    ):
        return signed[10] == "T" and signed[26] == "Z"
    return signed == _leaf_time(column)


_fields = operator.itemgetter("time", "action", "actor", "role", "target", "ip")


def _content(data: bytes) -> Any:
    # orjson parses a leaf several times faster than json; what it refuses (lone surrogates, integers
    # beyond 64 bits) json decides, so the result is json's for every leaf.
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        return json.loads(data)


def _row_problem(index: int, content: Any, row: tuple, actor: str | None) -> Problem | None:
    """The exact comparison of one row's filter columns, naming the first that disagrees."""
    created_at, action, _actor, role, target_type, target_id, ip = row[SEAL_SCOPE + 1 :]
    target = content.get("target") or {}
    expected = {
        "time": (content.get("time"), _leaf_time(created_at)),
        "action": (content.get("action"), action),
        "actor": (content.get("actor"), actor),
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


class ColumnCheck:
    """Every column a search filters on must say what the signed leaf says (for a sealed entry: what
    its content says, which the seal check matches against the commitment)."""

    def __init__(self) -> None:
        self._actors: dict[Any, str | None] = {}  # few distinct actors: convert each once

    def _actor(self, value: Any) -> str | None:
        if value not in self._actors:
            self._actors[value] = _actor_text(value)
        return self._actors[value]

    def first_problem(self, start: int, leaves: list[bytes], rows: list[tuple]) -> Problem | None:
        """``rows`` as read (``COLUMNS``); ``leaves`` their leaves as bytes. A million rows go through
        here: the common case is one parse and plain comparisons; any doubt goes to ``_row_problem``."""
        actor_of = self._actor
        for offset, (leaf, row) in enumerate(zip(leaves, rows, strict=True)):
            sealed = row[SEALED]
            created_at, action, actor_id, role, target_type, target_id, ip = row[SEAL_SCOPE + 1 :]
            try:
                content = _content(bytes(sealed) if sealed is not None else leaf)
            except ValueError:  # an altered leaf: the tree check reports it first
                return start + offset, f"leaf {start + offset}: not JSON"
            actor = actor_of(actor_id)
            try:
                signed_time, signed_action, signed_actor, signed_role, target, signed_ip = _fields(content)
                target_matches = (
                    target_type is None and target_id is None
                    if target is None
                    else (target["type"], target["id"]) == (target_type, target_id)
                )
            except (KeyError, TypeError):  # not the usual shape: the exact comparison decides
                target_matches = False
            if (
                target_matches
                and signed_action == action
                and signed_ip == ip
                and signed_actor == actor
                and signed_role == role
                and _same_time(signed_time, created_at)
            ):
                continue
            problem = _row_problem(start + offset, content, row, actor)
            if problem is not None:
                return problem
        return None


# On SQLite the database compares the filter columns with the leaf itself (its JSON functions, in C):
# reading seven more columns a row into Python and parsing every leaf there costs several times the
# hashing. The comparison only picks suspects, erring on their side: the JSON texts of the values are
# equal only when the values are, a time or actor in any other form than the usual one is a suspect,
# and every suspect goes through ``_row_problem``, which decides.
_SQLITE_SUSPECTS = """
SELECT "index" FROM audit_entries WHERE "index" >= {start} AND "index" < {end} AND
  json_extract(CAST(coalesce(sealed, leaf) AS TEXT),
               '$.time', '$.action', '$.actor', '$.role', '$.target.type', '$.target.id', '$.ip')
  IS NOT json_array(
    CASE WHEN created_at GLOB '{digits4}-{digits2}-{digits2} {digits2}:{digits2}:{digits2}.{digits6}+00:00'
         THEN substr(created_at, 1, 10) || 'T' || substr(created_at, 12, 15) || 'Z'
         ELSE created_at END,
    action,
    CASE WHEN length(actor_id) = 32
         THEN substr(actor_id, 1, 8) || '-' || substr(actor_id, 9, 4) || '-' || substr(actor_id, 13, 4)
              || '-' || substr(actor_id, 17, 4) || '-' || substr(actor_id, 21)
         ELSE actor_id END,
    actor_role, target_type, target_id, ip)
ORDER BY "index"
"""


def _sqlite_column_problem(raw: Any, start: int, end: int) -> Problem | None:
    digit = "[0-9]"
    query = _SQLITE_SUSPECTS.format(
        start=int(start), end=int(end), digits2=digit * 2, digits4=digit * 4, digits6=digit * 6
    )
    columns = ColumnCheck()
    cursor = raw.cursor()
    try:
        try:
            cursor.execute(query)
            suspects = [index for (index,) in cursor.fetchall()]
        except sqlite3.OperationalError:  # a leaf that is not JSON (the tree check names it)
            return _python_column_problem(raw, start, end)
        for index in suspects:
            cursor.execute(f'SELECT {COLUMNS} FROM audit_entries WHERE "index" = {int(index)}')  # noqa: S608
            rows = cursor.fetchall()
            problem = columns.first_problem(index, [row[0] for row in rows], rows)
            if problem is not None:
                return problem
    finally:
        cursor.close()
    return None


def _python_column_problem(raw: Any, start: int, end: int) -> Problem | None:
    columns = ColumnCheck()
    position = start
    for rows in cursor_rows(raw, start, end, COLUMNS):
        problem = columns.first_problem(position, as_bytes([row[0] for row in rows]), rows)
        if problem is not None:
            return problem
        position += len(rows)
    return None


# -- sealed contents -------------------------------------------------------------------------------------


def first_unopened_seal(start: int, leaves: list[bytes], rows: list[tuple]) -> tuple[int, str] | None:
    """A sealed leaf commits to the content kept beside it (audit.seals): every one must open its
    commitment, at its own index and time, or what supervisors are shown at the reveal is not what
    was logged."""
    sha256 = hashlib.sha256
    for offset, (leaf, row) in enumerate(zip(leaves, rows, strict=True)):
        if row[SEAL_SCOPE] is None:
            continue
        index, sealed = start + offset, row[SEALED]
        try:
            public = _content(leaf)
        except ValueError:  # an altered leaf: the tree check reports it first
            return index, "the sealed leaf is not JSON"
        if sealed is None or sha256(sealed).hexdigest() != public.get("sealed"):
            return index, "the sealed content does not match its commitment"
        content = _content(bytes(sealed))
        if content.get("i") != index or content.get("time") != public.get("time"):
            return index, "the sealed content names another index or time"
    return None


# -- the range -------------------------------------------------------------------------------------------


def _first_gap(raw: Any, start: int, end: int) -> tuple[int, int]:
    expected = start
    for rows in cursor_rows(raw, start, end, '"index"'):
        for (index,) in rows:
            if index != expected:
                return expected, index
            expected += 1
    return expected, -1


def scan(raw: Any, start: int, end: int, cuts: list[int], dialect: str = "") -> Scan:
    """Check leaves [start, end): ``start`` is 0 or a multiple of 2**TOP_LEVEL."""
    result = Scan()
    hashes: list[bytes] = []
    columns = ColumnCheck()
    in_database = dialect == "sqlite"
    if in_database:
        result.column = _sqlite_column_problem(raw, start, end)
    for rows in cursor_rows(raw, start, end, LEAF_COLUMNS if in_database else COLUMNS):
        batch = as_bytes([row[0] for row in rows])
        computed = leaf_hashes(batch)
        if result.leaf_hash is None:
            stored = as_bytes([row[1] for row in rows])
            if stored != computed:
                offset = next(k for k, (a, b) in enumerate(zip(computed, stored, strict=True)) if a != b)
                result.leaf_hash = start + len(hashes) + offset
        if result.column is None and not in_database:
            result.column = columns.first_problem(start + len(hashes), batch, rows)
        if result.seal is None:
            result.seal = first_unopened_seal(start + len(hashes), batch, rows)
        hashes.extend(computed)
    if start + len(hashes) != end:  # a gap: blocks folded from shifted leaves would mean nothing
        result.missing = _first_gap(raw, start, end)
        return result
    levels = levels_of(start, hashes)
    for level, (first, nodes) in enumerate(levels[1 : TOP_LEVEL + 1], 1):
        result.node = node_problem(raw, level, first, nodes)
        if result.node is not None:
            break
    if len(levels) > TOP_LEVEL:
        result.top = levels[TOP_LEVEL][1]
    result.blocks = _cut_blocks(levels, start, end, cuts)
    return result
