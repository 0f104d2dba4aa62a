"""Resumable uploads of sealed parts (issue 15): a part goes up in chunks that survive a dropped
connection or a closed laptop lid, for the page and for bidtool alike.

1. ``begin``: the tenderer sends the part's outer signature (OUT.sig) first. It names the tender, lot
   and part, and the envelope's SHA-256 and size, so a part for another tender is refused before a
   byte of it is sent, and the size the chunks may fill is fixed. Sending the same OUT.sig again
   answers with how far the platform's copy got: that is how a client resumes.
2. ``append``: each chunk names its offset and its own SHA-256. A chunk is checked whole before it is
   kept, so a tampered, misplaced or oversized chunk, or one arriving after the deadline, is refused
   with its own code and leaves the copy as it was. A client may send the next ``AHEAD`` chunks while
   one is still being written: a chunk that starts past the copy waits (``WAIT_FOR_EARLIER``) for the
   ones before it, and is refused with the copy's offset if they never come. One chunk at a time, the
   line idles while the platform writes and syncs each chunk; two in flight, it does not.
3. The chunk that reaches the signed size completes the part: the file is hashed here and judged
   exactly as a part sent in one request (``bids.accept_part``): R-B1, and R-B3 by the arrival of
   its last byte. The receipt (R-B2) comes with the submission, unchanged.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from datetime import datetime
from typing import IO

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from accounts.models import User
from bidding import bids
from bidding.models import Bid, BidPart, BidUpload, Tender
from bidding.permissions import bid_scope
from core import clock
from core.errors import Conflict, DomainError, Invalid, NotFound, TooLarge
from core.storage import FileStore, StoredFile
from crypto import bidpack

CHUNK_MAX = 16 * 1024 * 1024
AHEAD = 2  # chunks a client may send past the one the copy waits for
WAIT_FOR_EARLIER = 15.0  # seconds a chunk that arrived early waits for those before it
READ_PIECE = 1024 * 1024


def _partial_name(upload: BidUpload) -> str:
    return f"{upload.id}.part"


def begin(
    session: Session,
    actor: User,
    tender: Tender,
    bid: Bid,
    part: str,
    signature_header: str | None,
    store: FileStore,
    ip: str | None = None,
) -> dict:
    """Open (or find again, to resume) the chunked upload of one part, from its outer signature, and
    say where the platform's copy stands (``state``)."""
    if part not in bidpack.PARTS:
        raise Invalid(_l("Parts are qualification, technical and commercial."), code="invalid_part")
    bids.still_open(bid)
    raw, envelope = bids.read_signature(signature_header)
    bids.before_deadline(tender)
    bids.not_paused(tender)
    statement = envelope.statement
    if (statement["tender"], statement["lot"], statement["part"]) != (str(tender.id), bid.lot_number, part):
        raise Invalid(
            _l("This sealed part is signed for another tender, lot or part."), code="bid_part_mismatch"
        )
    size, sha256 = statement["ciphertext_size"], statement["ciphertext_sha256"]
    if size > bids.MAX_PART_SIZE:
        raise TooLarge(
            _l("A part is at most 4 GiB."), code="file_too_large", details={"max_size": bids.MAX_PART_SIZE}
        )
    upload = session.scalar(select(BidUpload).where(BidUpload.bid_id == bid.id, BidUpload.part == part))
    if upload is not None and (upload.sha256, upload.size) == (sha256, size):
        return state(upload)  # resume where the platform's copy stops
    if upload is None:
        held = session.scalar(select(BidPart).where(BidPart.bid_id == bid.id, BidPart.part == part))
        if held is not None and (held.sha256, held.size) == (sha256, size):
            # This very envelope is in already: its copy was completed by a chunk the sender lost track
            # of (sent before a page was reloaded, it waited on the platform for the one before it).
            return state(None, held)
        upload = BidUpload(bid_id=bid.id, part=part)
        session.add(upload)
    # A new envelope for the part (sealed again): start its copy afresh.
    upload.sha256, upload.size, upload.received = sha256, size, 0
    upload.signature = raw.decode()
    upload.updated_at = clock.now()
    session.flush()
    path = store.partial(_partial_name(upload))
    with open(path, "wb"):
        pass
    audit.record(
        session,
        actor,
        "bidding.bid_upload_started",
        bid,
        {"part": part, "sha256": sha256, "size": size},
        ip,
        sealed=bid_scope(tender.id),
    )
    return state(upload)


def find(
    session: Session, actor: User, tender: Tender, bid: Bid, upload_id: uuid.UUID, lock: bool = False
) -> BidUpload:
    """The actor's own upload; one opened for another of its tenders or bids is named as such. ``lock``:
    held until the transaction ends (PostgreSQL; on SQLite the write lock already holds everything)."""
    upload = session.get(BidUpload, upload_id, with_for_update=lock, populate_existing=lock)
    owner = session.get(Bid, upload.bid_id) if upload is not None else None
    if upload is None or owner is None or owner.organization_id != actor.organization_id:
        raise NotFound(_l("No such upload."), code="upload_not_found")
    if owner.id != bid.id or owner.tender_id != tender.id:
        raise Conflict(
            _l("This upload belongs to another tender or bid: send its chunks there."),
            code="upload_other_tender",
        )
    return upload


def check_chunk(upload: BidUpload, offset_header: str | None, length: int | None) -> int:
    """Refuse a chunk from its headers alone, before its body is read: wrong offset, too long."""
    try:
        offset = int(offset_header or "")
    except ValueError as exc:
        raise Invalid(
            _l("Send the chunk's offset in the Upload-Offset header."), code="upload_offset_missing"
        ) from exc
    if not upload.received <= offset <= upload.received + AHEAD * CHUNK_MAX:
        raise _elsewhere(upload)
    if length is None:
        raise Invalid(_l("Send the chunk's length (Content-Length)."), code="chunk_length_missing")
    if length > CHUNK_MAX:
        raise TooLarge(
            _l("A chunk is at most 16 MiB."), code="chunk_too_large", details={"max_size": CHUNK_MAX}
        )
    if length == 0 or offset + length > upload.size:
        raise Invalid(
            _l("This chunk goes past the part's signed size of %(size)s bytes.", size=upload.size),
            code="chunk_past_size",
            details={"offset": upload.received, "size": upload.size},
        )
    return offset


def _elsewhere(upload: BidUpload) -> Conflict:
    return Conflict(
        _l(
            "The platform's copy stops at byte %(offset)s: send the chunk from there.",
            offset=upload.received,
        ),
        code="upload_offset_mismatch",
        details={"offset": upload.received},
    )


def read_chunk(stream: IO[bytes], length: int, digest_header: str | None) -> tuple[list[bytes], datetime]:
    """The chunk's bytes (in the pieces they were read in), checked against the SHA-256 the sender
    named, and when its last byte came. Each piece is hashed as it comes, while the next is on the
    wire, rather than the whole chunk once it is in: a 16 MiB chunk is answered ~10 ms sooner."""
    digest = hashlib.sha256()
    pieces: list[bytes] = []
    left = length
    while left:
        piece = stream.read(min(left, READ_PIECE))
        if not piece:
            break
        digest.update(piece)
        pieces.append(piece)
        left -= len(piece)
    arrived = clock.now()
    if left:
        raise Invalid(_l("The chunk arrived incomplete."), code="chunk_incomplete")
    if (digest_header or "").strip().lower() != digest.hexdigest():
        raise Invalid(
            _l("The chunk was altered on the way (its SHA-256 is not the one sent): nothing was kept."),
            code="chunk_digest_mismatch",
        )
    return pieces, arrived


def append(
    session: Session,
    actor: User,
    tender: Tender,
    bid: Bid,
    upload: BidUpload,
    offset: int,
    pieces: list[bytes],
    arrived: datetime,
    store: FileStore,
    ip: str | None = None,
    whole: StoredFile | None = None,
) -> BidPart | None:
    """Keep a checked chunk (the caller holds the write lock); the last one completes the part, whose
    digest ``whole`` the caller may have taken beforehand (FileStore.digest_partial)."""
    bids.still_open(bid)
    bids.before_deadline(tender, arrived)  # R-B3: a chunk after the deadline is not kept
    bids.not_paused(tender)
    if offset != upload.received:  # another request got there first, or an earlier chunk never came
        raise _elsewhere(upload)
    path = store.partial(_partial_name(upload))
    store.write_partial(path, offset, pieces)
    upload.received = offset + sum(map(len, pieces))
    upload.updated_at = arrived
    session.flush()
    if upload.received < upload.size:
        return None
    raw, envelope = bids.read_signature_text(upload.signature)
    stored = store.adopt(path, whole)
    part, upload_id = upload.part, upload.id
    session.delete(upload)
    session.flush()
    try:
        return bids.accept_part(session, actor, tender, bid, part, stored, raw, envelope, arrived, store, ip)
    except DomainError as err:  # the complete part is refused: its copy starts over
        raise err.keep(lambda again: restart(again, upload_id, store)) from None


def receive_chunk(
    session: Session,
    actor: User,
    tender_id: uuid.UUID,
    bid_id: uuid.UUID,
    upload_id: uuid.UUID,
    offset_header: str | None,
    digest_header: str | None,
    length: int | None,
    stream: IO[bytes],
    store: FileStore,
    ip: str | None = None,
) -> tuple[BidUpload, BidPart | None]:
    """One chunk, for the API and the page alike: refused from its headers if it can be, read and
    checked whole with no transaction held, then kept under the write lock (call it first thing)."""
    tender, bid = bids.own_bid(session, actor, tender_id, bid_id)
    upload = find(session, actor, tender, bid, upload_id)
    offset = check_chunk(upload, offset_header, length)
    session.rollback()  # nothing is written before the whole chunk is in and checked
    pieces, arrived = read_chunk(stream, length or 0, digest_header)
    give_up = time.monotonic() + WAIT_FOR_EARLIER
    whole: StoredFile | None = None
    while True:
        bids.take_write_lock(session)
        tender, bid = bids.own_bid(session, actor, tender_id, bid_id)
        upload = find(session, actor, tender, bid, upload_id, lock=True)
        completes = offset == upload.received and offset + (length or 0) == upload.size
        if completes and whole is None:
            # The last chunk, next in line: the complete part is hashed with the lock let go (the
            # bytes before ``offset`` no longer change), then the chunk is kept with that digest.
            # The path is taken first: reading the expired row after the rollback would begin a
            # transaction without the write lock, and the loop would then go on in it.
            path = store.partial(_partial_name(upload))
            session.rollback()
            whole = store.digest_partial(path, offset, pieces)
            continue
        if offset <= upload.received or time.monotonic() >= give_up:
            # Judged by when its last byte arrived (R-B3), however long it waited for the ones before.
            kept = append(session, actor, tender, bid, upload, offset, pieces, arrived, store, ip, whole)
            return upload, kept
        session.rollback()  # the chunk before it is still on its way: let it be written first
        time.sleep(0.02)


def state(upload: BidUpload | None, part: BidPart | None = None) -> dict:
    """What the client is told after each step: where the copy stops and, once complete, the part.
    Without ``upload`` the copy is over (its row is gone) and ``part`` is the part it made."""
    if upload is None:
        assert part is not None, "an upload that is over is described by the part it made"
        copy_id, name, offset, size = "", part.part, part.size, part.size
    else:
        copy_id, name, offset, size = str(upload.id), upload.part, upload.received, upload.size
    return {
        "id": copy_id,
        "part": name,
        "offset": offset,
        "size": size,
        "chunk_max": CHUNK_MAX,
        "ahead": AHEAD,
        "complete": part is not None,
        "received": {"part": part.part, "sha256": part.sha256, "size": part.size} if part else None,
    }


def restart(session: Session, upload_id: uuid.UUID, store: FileStore) -> None:
    """After a complete part was refused: its copy is dropped, so the next try starts from byte 0."""
    upload = session.get(BidUpload, upload_id)
    if upload is None:
        return
    upload.received = 0
    path = store.partial(_partial_name(upload))
    if path.exists():
        path.unlink()
    session.flush()
