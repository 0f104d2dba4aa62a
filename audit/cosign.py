"""Getting the log's checkpoints cosigned by the witness, and serving them (c2sp.org/tlog-witness).

The platform sends the head's checkpoint to the witness (``WITNESS_URL``, its key ``WITNESS_KEY``) with
a consistency proof from the last size the witness cosigned, and keeps the cosigned note in
``audit_cosigned`` (append-only). Only committed entries are ever sent: a checkpoint over a transaction
that then rolled back would be a fork the witness could never get past. So cosigning runs in its own
session after the commit that appended (a receipt's proof, the opening record's, a beat job), never
inside a request's unit of work.

A log that was rolled back or forked gets no cosignature (the witness answers 409 or 422):
``publish`` then raises ``WitnessRefused`` with the witness's own words, and the supervisors' pages and
every verifier, which require the cosignature, show it.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from audit import log
from audit.models import AuditCosigned
from audit.witness import SIZE_TYPE, request_body
from core import clock
from core.db import has_written, intent
from crypto import cosignature, logproof, note

TIMEOUT = 10.0
logger = logging.getLogger("sunbid.audit")


class WitnessUnavailable(Exception):
    """The witness could not be reached or is not configured: try again later."""


class WitnessRefused(Exception):
    """The witness refused the log's checkpoint: the log was rolled back or forked, or it is misconfigured."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def witness_verifiers() -> list[cosignature.CosignatureVerifier]:
    key = current_app.config.get("WITNESS_KEY")
    return [cosignature.CosignatureVerifier.from_key_string(key)] if key else []


def trust() -> logproof.Trust:
    """What a reader of this platform's proofs must trust: the log's key and the witness's."""
    return logproof.Trust(log.verifier(), tuple(witness_verifiers()))


def configured() -> bool:
    return bool(current_app.config.get("WITNESS_URL") and current_app.config.get("WITNESS_KEY"))


def latest(session: Session) -> AuditCosigned | None:
    return session.scalar(select(AuditCosigned).order_by(AuditCosigned.size.desc()).limit(1))


def covering(session: Session, index: int) -> AuditCosigned | None:
    """The smallest cosigned checkpoint that includes leaf ``index``."""
    return session.scalar(
        select(AuditCosigned).where(AuditCosigned.size > index).order_by(AuditCosigned.size).limit(1)
    )


def _post(body: bytes) -> tuple[int, str, bytes]:
    url = current_app.config["WITNESS_URL"].rstrip("/") + "/add-checkpoint"
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 (configured URL)
    request.add_header("Content-Type", "text/plain; charset=utf-8")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()
    except (urllib.error.URLError, OSError) as e:
        raise WitnessUnavailable(f"the witness cannot be reached: {e}") from e


def publish(session: Session, *, confirm: bool = False) -> AuditCosigned | None:
    """Have the committed head cosigned (unless it already is) and keep it; commits its own row.

    ``confirm`` asks the witness even when the head is already cosigned: a database swapped for an older
    copy that has not appended since is then refused too (the beat job does this every minute).

    ``session`` must not hold uncommitted work: call it after the commit. No transaction is held
    while the witness answers (on SQLite that would hold the write lock)."""
    if not configured():
        return None
    if has_written(session):
        raise RuntimeError("publish() runs after the commit, never inside a unit of work")
    session.rollback()  # read the committed head afresh
    frontier = log.head_frontier(session)
    if frontier.size == 0:
        return None
    last = latest(session)
    if last is not None and last.size >= frontier.size and not confirm:
        return last
    signed = log.sign_checkpoint(frontier.size, frontier.root()).encode()
    old = last.size if last is not None else 0
    for _attempt in range(3):
        proof = log.consistency_proof(session, old, frontier.size) if old else []
        session.rollback()
        status, kind, answer = _post(request_body(old, proof, signed))
        if status == 200:
            return _keep(session, frontier.size, signed, answer.decode())
        if status == 409 and kind.startswith(SIZE_TYPE):
            witnessed = int(answer.strip() or b"0")
            if witnessed <= frontier.size:
                old = witnessed  # another process moved the witness on: prove from there
                continue
            session.rollback()
            raise _refused(
                409,
                f"the witness has cosigned {witnessed} entries, but this log holds only {frontier.size}: "
                "it was rolled back",
            )
        session.rollback()
        raise _refused(status, answer.decode(errors="replace").strip() or f"HTTP {status}")
    session.rollback()
    raise WitnessUnavailable("the witness kept moving on; try again")


def _refused(status: int, message: str) -> WitnessRefused:
    logger.error("WITNESS REFUSED the audit log's checkpoint (HTTP %s): %s", status, message)
    return WitnessRefused(message, status)


def _keep(session: Session, size: int, signed: bytes, lines: str) -> AuditCosigned:
    cosigned = cosignature.add_signatures(signed, lines)
    # Keep only what verifies: the log's signature and the witness's cosignature.
    try:
        cosignature.open_cosigned(cosigned, log.verifier(), witness_verifiers())
    except note.NoteError as e:
        session.rollback()
        raise WitnessRefused(f"the witness answered with a cosignature that does not verify: {e}", 200) from e
    with intent(True):  # SQLite: take the write lock up front (core.db)
        session.rollback()
        existing = session.get(AuditCosigned, size)
        if existing is not None:
            session.rollback()
            return existing
        row = AuditCosigned(size=size, created_at=clock.now(), note=cosigned.decode())
        session.add(row)
        session.commit()
    return row


def publish_quietly(session: Session, *, confirm: bool = False) -> AuditCosigned | None:
    """``publish``, for callers whose own work is done and must not fail because the witness did: a
    refusal is logged loudly (and shows on every page that requires the cosignature), an unreachable
    witness is tried again by the beat job."""
    try:
        return publish(session, confirm=confirm)
    except WitnessUnavailable as e:
        logger.warning("audit checkpoint not cosigned yet: %s", e)
    except WitnessRefused:
        pass  # already logged as an error
    return latest(session)
