"""Self-verifying tender archives (R-R2): ``flask archive export TENDER [FILE]``.

One file with everything a tender left behind (the domain packages contribute its parts through
``register_parts``: notice, documents and amendments, sealed and opened bids with their receipts, the
opening record, the report, the award and notices, the contract), the tender's audit entries with their
inclusion proofs, and a seal: the proof of an ``audit.archive_exported`` entry naming the manifest's
SHA-256, all in one checkpoint cosigned by the witness. ``python -m audit.verify_archive`` checks it
offline; the format is described there.

The export appends an entry and needs the witness: it commits, then has the head cosigned.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from audit import cosign, describe, log, seals
from audit.models import AuditEntry
from audit.verify_archive import EXPORT_ACTION, MAGIC
from core import clock
from core.db import get_row
from crypto import logproof, note
from crypto.canonical import canonical_json

_PARTS = "sunbid.archive_parts"
_BLOCK = 1024 * 1024


@dataclass(frozen=True)
class Member:
    """One file of the archive: its bytes, or a file to copy."""

    name: str
    data: bytes | None = None
    path: Path | None = None


def register_parts(app, provider: Callable[[Session, object], Iterable[Member]]) -> None:
    """``provider(session, tender_id)`` yields the members a domain package keeps for a tender."""
    app.extensions.setdefault(_PARTS, []).append(provider)


class ArchiveError(Exception):
    pass


def _path(member: Member) -> Path:
    """A member without bytes is a file to copy: a provider that gives neither is a bug, said so."""
    if member.path is None:
        raise ArchiveError(f"archive part {member.name} has neither bytes nor a file")
    return member.path


def _digest(member: Member) -> tuple[str, int]:
    if member.data is not None:
        return hashlib.sha256(member.data).hexdigest(), len(member.data)
    digest, size = hashlib.sha256(), 0
    with open(_path(member), "rb") as f:
        while chunk := f.read(_BLOCK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _tender_entries(session: Session, tender_id) -> list[AuditEntry]:
    targets = describe.tender_target_ids(session, tender_id)
    return list(
        session.scalars(
            select(AuditEntry).where(AuditEntry.target_id.in_(targets)).order_by(AuditEntry.index)
        )
    )


def _content(session: Session, entry: AuditEntry) -> bytes | None:
    """What the archive may show of an entry: its leaf, or a sealed entry's content once revealed."""
    if entry.sealed is None:
        return bytes(entry.leaf)
    if entry.seal_scope is not None and seals.is_revealed(session, entry.seal_scope):
        return bytes(entry.sealed)
    return None


def export(session: Session, tender_id, code: str, target: Path, actor=None) -> dict:
    """Write the tender's archive to ``target`` (not overwritten); returns a summary."""
    if not cosign.configured():
        raise ArchiveError("no witness is configured: an archive needs a cosigned checkpoint")
    members = [m for provider in current_app.extensions.get(_PARTS, []) for m in provider(session, tender_id)]
    entries = _tender_entries(session, tender_id)
    shown = {e.index: _content(session, e) for e in entries}
    listed = []
    for member in members:
        sha, size = _digest(member)
        attested = next((i for i, body in shown.items() if body is not None and sha.encode() in body), None)
        listed.append({"name": member.name, "size": size, "sha256": sha, "attested_by": attested})
    manifest = {
        "v": 1,
        "type": "sunbid-tender-archive",
        "tender": str(tender_id),
        "code": code,
        "exported_at": clock.now().isoformat(),
        "members": listed,
        "audit_entries": sorted(shown),
    }
    manifest_bytes = canonical_json(manifest)
    sealed = audit.record(
        session,
        actor,
        EXPORT_ACTION,
        ("tenders", str(tender_id)),
        {
            "tender": str(tender_id),
            "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(),
            "members": len(listed),
        },
        None,
    )
    session.commit()
    cosigned = cosign.publish(session)
    if cosigned is None or cosigned.size <= sealed.index:
        raise ArchiveError("the witness has not cosigned the export")
    size = cosigned.size

    def proof(index: int, content: bytes | None) -> dict[str, Any]:
        entry = get_row(session, AuditEntry, index)
        disclose = content if entry.sealed is not None else None
        return logproof.make_proof(
            index, bytes(entry.leaf), cosigned.note, log.inclusion_proof(session, index, size), disclose
        )

    trailer = {
        "seal": proof(sealed.index, None),
        "entries": [proof(index, shown[index]) for index in sorted(shown)],
    }
    trailer_bytes = canonical_json(trailer)
    tmp = target.with_name(f".{target.name}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(MAGIC)
            out.write(b"%d\n" % len(manifest_bytes) + manifest_bytes + b"\n")
            for member in members:
                if member.data is not None:
                    out.write(member.data)
                else:
                    with open(_path(member), "rb") as f:
                        while chunk := f.read(_BLOCK):
                            out.write(chunk)
            out.write(b"%d\n" % len(trailer_bytes) + trailer_bytes + b"\n")
            out.flush()
            os.fsync(out.fileno())
        if target.exists():
            raise FileExistsError(f"{target} exists")
        os.rename(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    opened = note.parse_checkpoint(note.parse_note(cosigned.note.encode()).text)
    return {
        "members": len(listed),
        "entries": len(shown),
        "bytes": target.stat().st_size,
        "checkpoint": opened.size,
        "log_key": log.verifier().key_string(),
        "witness_keys": [w.key_string() for w in cosign.witness_verifiers()],
    }


def json_member(name: str, value) -> Member:
    """A JSON member in canonical form (what is hashed is what is written)."""
    return Member(name, canonical_json(json.loads(json.dumps(value, default=str))))
