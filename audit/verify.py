"""Offline verifier for an audit-log export (审计日志离线校验)::

    python -m audit.verify DIR [--key VERIFIER_KEY_STRING_OR_FILE]

It imports only the standard library, ``crypto.merkle`` and ``crypto.note``, so a supervisor or an
outside auditor can run it on a copy of the export without the platform, its database or Flask.

Export format, all files in DIR:

``entries.jsonl``
    One leaf per line: line i (counting from 0) is the exact bytes of leaf i, UTF-8 canonical JSON
    with no newline inside, followed by ``\\n``. Every leaf is a JSON object whose member ``"i"`` is
    its own index.

``checkpoints.txt``
    The log's signed checkpoints (c2sp.org/tlog-checkpoint bodies in c2sp.org/signed-note notes), in
    any order, each note followed by a line holding a single form feed: the bytes ``0C 0A``. A signed
    note may not contain control characters, so the form feed never occurs inside one, and an
    exporter can append a note without rewriting what is already there.

``disclosed.jsonl`` (optional)
    The content of every sealed entry whose time has come (who bid, once the deadline passed; who
    evaluated, once the result is known), one canonical JSON object per line, each naming its leaf
    in ``"i"``. A sealed leaf is ``{"v", "i", "time", "sealed"}`` where ``"sealed"`` is the hex SHA-256
    of that exact line: the verifier checks every disclosed line against its leaf's commitment.

``log.pub``
    The log's verifier key string, ``name+keyid+base64key``, on one line. Used only without ``--key``,
    and then only with a warning: a key taken from the export shows that the export is consistent
    with itself, not that the platform produced it.

The verifier checks every checkpoint's signature, streams the entries once in constant memory,
checks each ``"i"`` is the line's index, rebuilds the tree and compares its root at every checkpoint
size. It stops at the first problem and names the leaf index, or for a root that differs with no other
clue, the range of leaves between the last checkpoint that matched and the one that did not.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import sys
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path

from crypto.merkle import Frontier
from crypto.note import (
    BadSignatureError,
    MalformedNoteError,
    NoteError,
    UnknownKeyError,
    Verifier,
    open_note,
    parse_checkpoint,
    parse_note,
)

ENTRIES = "entries.jsonl"
DISCLOSED = "disclosed.jsonl"
CHECKPOINTS = "checkpoints.txt"
PUBLIC_KEY = "log.pub"
NOTE_TERMINATOR = b"\f\n"

# Leaves are checked and hashed in batches so that the per-leaf work stays in C; a batch never crosses
# a checkpoint size, so the first problem found is still the first one in log order.
_BATCH = 4096
_READ_SIZE = 1 << 20


@dataclass(frozen=True)
class Report:
    """What a verification found. ``problem`` describes the first failure; the ``bad_*`` fields locate it."""

    ok: bool
    entries: int = 0
    checkpoints: int = 0
    latest_size: int | None = None
    latest_root: bytes | None = None
    problem: str | None = None
    bad_leaf: int | None = None
    bad_range: tuple[int, int] | None = None
    bad_checkpoint: int | None = None
    disclosed: int = 0

    @property
    def uncovered(self) -> int:
        """Entries after the latest checkpoint: intact as far as anyone can tell, but not yet signed."""
        if not self.ok or self.latest_size is None:
            return 0
        return self.entries - self.latest_size

    def summary(self) -> str:
        if not self.ok:
            return f"FAIL: {self.problem}"
        root = base64.b64encode(self.latest_root or b"").decode()
        disclosed = f", {self.disclosed} sealed entries disclosed and checked" if self.disclosed else ""
        return (
            f"OK: {self.entries} entries, {self.checkpoints} checkpoints, "
            f"latest size {self.latest_size} root {root}{disclosed}"
        )


class CheckpointProblem(Exception):
    """A checkpoint note that cannot be trusted; ``size`` is the size it claims, when it can be read."""

    def __init__(self, message: str, size: int | None = None) -> None:
        super().__init__(message)
        self.size = size


def _claimed_size(note: bytes) -> int | None:
    # Read from the unverified text, only to tell the reader which checkpoint is at fault.
    try:
        return parse_checkpoint(parse_note(note).text).size
    except NoteError:
        return None


def open_checkpoints(notes: Iterable[bytes], verifiers: Sequence[Verifier]) -> dict[int, tuple[bytes, str]]:
    """Verify checkpoint notes and map each size to (root, note text).

    Raises ``CheckpointProblem`` for the first note that is malformed, not signed by one of
    ``verifiers``, signed badly, from another log, or at a size another signed checkpoint gives a
    different root (a fork: the worst thing a log can be caught doing).
    """
    checkpoints: dict[int, tuple[bytes, str]] = {}
    origin = None
    for number, note in enumerate(notes, 1):
        claimed = _claimed_size(note)
        label = f"note #{number}" if claimed is None else f"checkpoint at size {claimed} (note #{number})"
        try:
            text = open_note(note, verifiers)
            checkpoint = parse_checkpoint(text)
        except MalformedNoteError as e:
            raise CheckpointProblem(f"{label} is malformed: {e}", claimed) from None
        except UnknownKeyError as e:
            raise CheckpointProblem(f"{label} is not signed by the log's key: {e}", claimed) from None
        except BadSignatureError as e:
            raise CheckpointProblem(f"{label} has a bad signature: {e}", claimed) from None
        size = checkpoint.size
        if origin is None:
            origin = checkpoint.origin
        elif checkpoint.origin != origin:
            raise CheckpointProblem(
                f"checkpoint at size {size} (note #{number}) is for log {checkpoint.origin!r}, "
                f"not {origin!r}",
                size,
            )
        earlier = checkpoints.get(size)
        if earlier is not None and earlier[0] != checkpoint.root:
            raise CheckpointProblem(f"two signed checkpoints at size {size} give different roots", size)
        checkpoints[size] = (checkpoint.root, text)
    return checkpoints


def _index_field_problem(leaf: bytes, index: int) -> str | None:
    # For the few leaves the batch check cannot vouch for: "i" last in its object, or something wrong.
    if b'"i":%d}' % index in leaf:
        return None
    try:
        value = json.loads(leaf)
    except (ValueError, RecursionError):
        return f"leaf {index}: not valid JSON"
    if not isinstance(value, dict):
        return f"leaf {index}: not a JSON object"
    if "i" not in value:
        return f"leaf {index}: no index field"
    found = value["i"]
    if type(found) is not int or found != index:
        return f"leaf {index}: index field says {json.dumps(found)}"
    return None


def _first_index_problem(batch: list[bytes], start: int) -> tuple[int, str] | None:
    """The first leaf of ``batch`` (leaf ``start`` onwards) whose "i" member is not its index.

    A leaf passes when it contains ``"i":<its index>`` followed by ``,`` (or ``}``); one that does not is
    parsed to say exactly what is wrong. Matching text instead of parsing every leaf keeps this cheap:
    the tokens are built and searched for in C loops, from the right since "i" sorts after most keys.
    It could only pass a misplaced leaf that also carries its position as "i" in a nested object; the
    check is there to locate lost or reordered lines, and the roots catch any change regardless.
    """
    tokens = ((b'"i":%d,\n' * len(batch)) % tuple(range(start, start + len(batch))))[:-1].split(b"\n")
    found = list(map(bytes.rfind, batch, tokens))
    if min(found) >= 0:
        return None
    for offset, position in enumerate(found):
        if position < 0:
            problem = _index_field_problem(batch[offset], start + offset)
            if problem:
                return start + offset, problem
    return None


def verify_leaves(leaves: Iterable[bytes], checkpoints: Mapping[int, tuple[bytes, str]]) -> Report:
    """Stream ``leaves`` (leaf bytes in log order) and check them against verified ``checkpoints``.

    ``checkpoints`` maps tree size to (root, note text), as ``open_checkpoints`` returns them; the
    signatures must already have been checked. The database-backed verifier feeds rows through here,
    so both verifiers judge a log by the same code.
    """
    sizes = sorted(checkpoints)
    if not sizes:
        return Report(ok=False, problem="no signed checkpoints to verify against")
    latest_size = sizes[-1]
    latest_root = checkpoints[latest_size][0]
    frontier = Frontier()
    leaves = iter(leaves)
    next_checkpoint = 0
    last_good = 0
    while True:
        size = frontier.size
        while next_checkpoint < len(sizes) and sizes[next_checkpoint] == size:
            if frontier.root() != checkpoints[size][0]:
                return Report(
                    ok=False,
                    entries=size,
                    checkpoints=next_checkpoint,
                    problem=(
                        f"checkpoint at size {size} does not match: "
                        f"first divergent range [{last_good}, {size})"
                    ),
                    bad_range=(last_good, size),
                    bad_checkpoint=size,
                )
            last_good = size
            next_checkpoint += 1
        limit = _BATCH
        if next_checkpoint < len(sizes):
            limit = min(limit, sizes[next_checkpoint] - size)
        batch = list(islice(leaves, limit))
        if not batch:
            break
        bad = _first_index_problem(batch, size)
        if bad:
            return Report(
                ok=False, entries=bad[0], checkpoints=next_checkpoint, problem=bad[1], bad_leaf=bad[0]
            )
        frontier.extend_leaves(batch)
    if next_checkpoint < len(sizes):
        beyond = sizes[next_checkpoint]
        return Report(
            ok=False,
            entries=frontier.size,
            checkpoints=next_checkpoint,
            problem=f"checkpoint at size {beyond} is beyond the end of the export ({frontier.size} entries)",
            bad_checkpoint=beyond,
        )
    return Report(
        ok=True,
        entries=frontier.size,
        checkpoints=len(sizes),
        latest_size=latest_size,
        latest_root=latest_root,
    )


class _EntriesFile:
    """The lines of entries.jsonl, read in large blocks; notes whether the last one lacked its newline."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.unterminated: int | None = None

    def blocks(self) -> Generator[list[bytes]]:
        # Whole blocks, not single lines, so that chain.from_iterable hands out the lines in C.
        count = 0
        tail = b""
        with self.path.open("rb") as f:
            while block := f.read(_READ_SIZE):
                lines = block.split(b"\n")
                lines[0] = tail + lines[0]
                tail = lines.pop()
                count += len(lines)
                yield lines
        if tail:
            self.unterminated = count
            yield [tail]


def split_checkpoint_file(data: bytes) -> list[bytes]:
    """The notes of a checkpoints.txt, each of which must be followed by a form-feed line."""
    if not data:
        return []
    *notes, rest = data.split(NOTE_TERMINATOR)
    if rest:
        raise CheckpointProblem(f"{CHECKPOINTS}: the last note is not followed by a form-feed line")
    for number, note in enumerate(notes, 1):
        if not note:
            raise CheckpointProblem(f"{CHECKPOINTS}: note #{number} is empty")
    return notes


def verify_export(path: str | Path, verifier: Verifier) -> Report:
    """Verify the export in directory ``path`` against the log key ``verifier``."""
    path = Path(path)
    try:
        notes = split_checkpoint_file((path / CHECKPOINTS).read_bytes())
        checkpoints = open_checkpoints(notes, [verifier])
    except OSError as e:
        return Report(ok=False, problem=f"cannot read {path / CHECKPOINTS}: {e.strerror}")
    except CheckpointProblem as e:
        return Report(ok=False, problem=str(e), bad_checkpoint=e.size)
    entries = _EntriesFile(path / ENTRIES)
    try:
        with contextlib.closing(entries.blocks()) as blocks:
            report = verify_leaves(chain.from_iterable(blocks), checkpoints)
    except OSError as e:
        return Report(ok=False, problem=f"cannot read {path / ENTRIES}: {e.strerror}")
    last = entries.unterminated
    if last is None:
        return _check_disclosed(path, report) if report.ok else report
    if (report.bad_leaf is not None and report.bad_leaf < last) or (
        report.bad_range is not None and report.bad_range[1] <= last
    ):
        return report
    # A cut-off last line explains whatever went wrong from there on, so it is what the reader needs.
    problem = f"leaf {last}: the last line of {ENTRIES} has no newline (truncated export?)"
    if not report.ok:
        problem = f"{problem}; {report.problem}"
    return Report(ok=False, entries=last, checkpoints=report.checkpoints, problem=problem, bad_leaf=last)


def _check_disclosed(path: Path, report: Report) -> Report:
    """Each disclosed content must hash to its sealed leaf's commitment, with the leaf's index and time."""
    disclosed = path / DISCLOSED
    if not disclosed.exists():
        return report
    wanted: dict[int, tuple[str, str | None]] = {}
    with disclosed.open("rb") as lines:
        for number, line in enumerate(lines, start=1):
            body = line.rstrip(b"\n")
            try:
                content = json.loads(body)
                index = content["i"]
            except (ValueError, KeyError, TypeError):
                return _failed(report, None, f"{DISCLOSED} line {number}: not a sealed entry's content")
            wanted[index] = (hashlib.sha256(body).hexdigest(), content.get("time"))
    with (path / ENTRIES).open("rb") as leaves:
        for index, leaf in enumerate(leaves):
            if index not in wanted:
                continue
            public = json.loads(leaf)
            digest, time = wanted.pop(index)
            if public.get("sealed") != digest or public.get("time") != time:
                return _failed(
                    report, index, f"leaf {index}: the disclosed content does not match its commitment"
                )
    if wanted:
        index = min(wanted)
        return _failed(report, index, f"leaf {index}: disclosed, but the log has no such sealed leaf")
    disclosed_count = sum(1 for _ in disclosed.open("rb"))
    return Report(**{**report.__dict__, "disclosed": disclosed_count})


def _failed(report: Report, index: int | None, problem: str) -> Report:
    return Report(
        ok=False, entries=report.entries, checkpoints=report.checkpoints, problem=problem, bad_leaf=index
    )


def _load_verifier(source: str) -> Verifier:
    try:
        key = Path(source).read_text(encoding="utf-8")
    except OSError:
        key = source
    return Verifier.from_key_string(key)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m audit.verify",
        description="Verify an audit-log export: signatures, leaf order and Merkle roots.",
    )
    parser.add_argument("directory", type=Path, help="the export directory")
    parser.add_argument("--key", help="the log's verifier key string, or a file that holds it")
    args = parser.parse_args(argv)
    try:
        if args.key:
            verifier = _load_verifier(args.key)
        else:
            verifier = Verifier.from_key_string((args.directory / PUBLIC_KEY).read_text(encoding="utf-8"))
            print(
                f"warning: no --key given, so the key comes from the export itself "
                f"({args.directory / PUBLIC_KEY}); this shows the export is consistent, not that the "
                "platform produced it. Compare the key with one published elsewhere.",
                file=sys.stderr,
            )
    except (OSError, NoteError) as e:
        print(f"error: cannot load the verifier key: {e}", file=sys.stderr)
        return 2
    report = verify_export(args.directory, verifier)
    print(report.summary())
    if report.uncovered:
        print(
            f"note: the last {report.uncovered} entries are not yet covered by a signed checkpoint",
            file=sys.stderr,
        )
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
