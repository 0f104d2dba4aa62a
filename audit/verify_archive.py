"""Offline verifier for a tender archive (招标投标档案, R-R2: kept 15 years)::

    python -m audit.verify_archive ARCHIVE --log-key KEY --witness-key KEY [--extract DIR]

It imports only the standard library and ``crypto`` (no Flask, no database, no platform): whoever keeps
the file can check it in 15 years with the log's and the witness's keys.

Format (``flask archive export`` writes it; every byte is checked, so any change is refused)::

    sunbid-tender-archive v1\\n
    <manifest length in bytes>\\n
    <manifest: canonical JSON>\\n
    <each member's bytes, in the manifest's order, exactly its size>
    <trailer length in bytes>\\n
    <trailer: canonical JSON>\\n

The manifest names the tender, lists every member (``name``, ``size``, ``sha256``, and ``attested_by``:
the index of the audit entry that recorded that hash when it happened) and the indexes of the tender's
audit entries. The trailer holds the log proof of the ``audit.archive_exported`` entry, whose data names
the manifest's SHA-256, and a log proof for each of the tender's entries (with the content of sealed
entries already disclosed), all in the same checkpoint, signed by the log and cosigned by the witness.

Checks: the layout (canonical numbers and JSON, nothing after the trailer); every member's size and
SHA-256; the checkpoint (log signature and witness cosignatures, no other signature lines); every
proof; the export entry names this manifest and this tender; the trailer holds exactly the entries the
manifest lists; and each member's SHA-256 appears in the entry that attests it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from crypto import logproof, note
from crypto.canonical import canonical_json

MAGIC = b"sunbid-tender-archive v1\n"
EXPORT_ACTION = "audit.archive_exported"
MAX_JSON = 256 * 1024 * 1024
_BLOCK = 1024 * 1024


class ArchiveRefused(Exception):
    """The archive is not what the platform exported, or cannot be shown to be."""


@dataclass
class ArchiveReport:
    tender: str = ""
    code: str = ""
    members: int = 0
    bytes: int = 0
    entries: int = 0
    checkpoint_size: int = 0
    cosigned_by: list[str] = field(default_factory=list)


def _length_line(f: BinaryIO, what: str) -> int:
    line = f.readline(32)
    if not line.endswith(b"\n") or not line[:-1].isdigit() or (len(line) > 2 and line[:1] == b"0"):
        raise ArchiveRefused(f"the {what} length is not a canonical decimal line")
    value = int(line[:-1])
    if value > MAX_JSON:
        raise ArchiveRefused(f"the {what} is larger than an archive's {what} may be")
    return value


def _canonical_json(f: BinaryIO, what: str) -> tuple[bytes, dict]:
    size = _length_line(f, what)
    data = f.read(size + 1)
    if len(data) != size + 1 or data[-1:] != b"\n":
        raise ArchiveRefused(f"the {what} is cut short")
    body = data[:-1]
    try:
        value = json.loads(body)
    except ValueError:
        raise ArchiveRefused(f"the {what} is not JSON") from None
    if not isinstance(value, dict) or canonical_json(value) != body:
        raise ArchiveRefused(f"the {what} is not canonical JSON")
    return body, value


def _copy_member(f: BinaryIO, member: dict, extract: Path | None) -> None:
    name, size, expected = member.get("name"), member.get("size"), member.get("sha256")
    if not isinstance(name, str) or not isinstance(size, int) or not isinstance(expected, str):
        raise ArchiveRefused("a manifest member lacks its name, size or SHA-256")
    digest = hashlib.sha256()
    out = None
    if extract is not None:
        target = (extract / name).resolve()
        if not target.is_relative_to(extract.resolve()):
            raise ArchiveRefused(f"member {name!r} would be written outside the folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        out = target.open("xb")
    try:
        left = size
        while left:
            chunk = f.read(min(_BLOCK, left))
            if not chunk:
                raise ArchiveRefused(f"member {name!r} is cut short")
            digest.update(chunk)
            if out is not None:
                out.write(chunk)
            left -= len(chunk)
    finally:
        if out is not None:
            out.close()
    if digest.hexdigest() != expected:
        raise ArchiveRefused(f"member {name!r} was changed: its SHA-256 is not the one recorded")


def _strict_checkpoint(signed: str, trust: logproof.Trust) -> None:
    """An archive's checkpoint carries the log's and the witnesses' signatures only: an extra line,
    which a signed-note reader would ignore, would be a byte nobody vouches for."""
    known = {(trust.log.name, trust.log.key_id)} | {(w.name, w.key_id) for w in trust.witnesses}
    for sig in note.parse_note(signed.encode()).signatures:
        if (sig.name, sig.key_id) not in known:
            raise ArchiveRefused(f"the checkpoint carries a signature by an unknown key ({sig.name})")


def verify_archive(path: str | Path, trust: logproof.Trust, extract: Path | None = None) -> ArchiveReport:
    report = ArchiveReport()
    with open(path, "rb") as f:
        if f.read(len(MAGIC)) != MAGIC:
            raise ArchiveRefused("not a SunBid tender archive (v1)")
        manifest_bytes, manifest = _canonical_json(f, "manifest")
        members = manifest.get("members")
        if not isinstance(members, list):
            raise ArchiveRefused("the manifest lists no members")
        names = [m.get("name") for m in members if isinstance(m, dict)]
        if len(set(names)) != len(members):
            raise ArchiveRefused("the manifest names a member twice")
        for member in members:
            _copy_member(f, member, extract)
            report.bytes += member["size"]
        _trailer_bytes, trailer = _canonical_json(f, "trailer")
        if f.read(1):
            raise ArchiveRefused("there are bytes after the trailer")
    try:
        seal = logproof.verify_proof(trailer.get("seal"), trust)
    except logproof.ProofError as e:
        raise ArchiveRefused(f"the archive's seal does not verify: {e}") from None
    _strict_checkpoint(trailer["seal"]["checkpoint"], trust)
    data = seal.entry.get("data") or {}
    if seal.entry.get("action") != EXPORT_ACTION or seal.sealed:
        raise ArchiveRefused("the seal is not an archive-export entry")
    if data.get("manifest_sha256") != hashlib.sha256(manifest_bytes).hexdigest():
        raise ArchiveRefused("the manifest is not the one the platform logged when it exported the archive")
    if data.get("tender") != manifest.get("tender"):
        raise ArchiveRefused("the seal names another tender")
    checkpoint = trailer["seal"]["checkpoint"]
    proven: dict[int, logproof.ProvenEntry] = {}
    for proof in trailer.get("entries") or []:
        if not isinstance(proof, dict) or proof.get("checkpoint") != checkpoint:
            raise ArchiveRefused("every entry must be proven in the seal's checkpoint")
        try:
            entry = logproof.verify_proof(proof, trust)
        except logproof.ProofError as e:
            raise ArchiveRefused(f"the proof of entry {proof.get('index')} does not verify: {e}") from None
        proven[entry.index] = entry
    if sorted(proven) != sorted(manifest.get("audit_entries") or []):
        raise ArchiveRefused("the trailer does not hold exactly the audit entries the manifest lists")
    for member in members:
        index = member.get("attested_by")
        if index is None:
            continue
        attesting = proven.get(index)
        if attesting is None or (attesting.sealed and not attesting.disclosed):
            raise ArchiveRefused(f"member {member['name']!r} names an entry the archive does not prove")
        if member["sha256"].encode() not in canonical_json(attesting.entry):
            raise ArchiveRefused(f"member {member['name']!r} is not the file entry {index} recorded")
    cosigned = trust.open(checkpoint)
    report.tender, report.code = str(manifest.get("tender")), str(manifest.get("code"))
    report.members, report.entries = len(members), len(proven)
    report.checkpoint_size = cosigned.checkpoint.size
    report.cosigned_by = sorted(cosigned.cosigned_at)
    return report


def _key(value: str) -> str:
    path = Path(value)
    return path.read_text(encoding="utf-8").strip() if path.is_file() else value.strip()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m audit.verify_archive", description="Verify a SunBid tender archive offline."
    )
    parser.add_argument("archive", type=Path)
    parser.add_argument("--log-key", required=True, help="the audit log's verifier key, or a file holding it")
    parser.add_argument(
        "--witness-key", action="append", required=True, help="the witness's key, or a file (repeatable)"
    )
    parser.add_argument("--extract", type=Path, help="also write the members into this (new) folder")
    args = parser.parse_args(argv)
    try:
        trust = logproof.Trust.from_keys(_key(args.log_key), [_key(k) for k in args.witness_key])
    except (OSError, ValueError) as e:
        print(f"error: cannot load the keys: {e}", file=sys.stderr)
        return 2
    try:
        report = verify_archive(args.archive, trust, args.extract)
    except (ArchiveRefused, logproof.ProofError, note.NoteError) as e:
        print(f"FAIL: {e}")
        return 1
    except OSError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(
        f"OK: tender {report.code} ({report.tender}): {report.members} files, {report.bytes} bytes, "
        f"{report.entries} audit entries, in the checkpoint of {report.checkpoint_size} entries cosigned by "
        f"{', '.join(report.cosigned_by)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
