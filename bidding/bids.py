"""Bids: sealed parts streamed to the file store, checked, and acknowledged with a signed receipt.

R-B1 only sealed bids: a part must be an age envelope (two recipients at least: the tender's opening
key and the tenderer's own) with a valid outer signature from the tenderer's certificate over its
SHA-256, tender, lot and part. R-B3 on time means complete before the deadline: the clock is read when
the upload completes. R-B2 a receipt at once, signed by the platform's receipt key. R-B4 replace or
withdraw before the deadline. Before the deadline nobody but the owner learns anything about a bid.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from accounts import pki, verification
from accounts.models import User
from bidding import ledger
from bidding.bidders import has_submitted_bid
from bidding.lifecycle import deadline_passed
from bidding.models import Bid, BidPart, Deposit, Tender, TenderDocument
from bidding.permissions import bid_scope
from core import clock
from core.db import get_row, has_written, intent
from core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from core.keys import instance_secret, random_key
from core.roles import Role
from core.storage import FileStore, StoredFile
from credit.services import refuse_if_debarred
from crypto import age, bidpack, ca, cms, receipts

MAX_PART_SIZE = bidpack.MAX_PART_SIZE
MAX_SIGNATURE_HEADER = 64 * 1024


def receipt_key() -> Ed25519PrivateKey:
    app = current_app
    key = app.extensions.get("sunbid.receipt_key")
    if key is None:
        seed = app.config.get("RECEIPT_SIGNER_KEY") or instance_secret(
            app.config["INSTANCE_PATH"], "receipt_key", random_key
        )
        key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(seed))
        app.extensions["sunbid.receipt_key"] = key
    return key


def receipt_public_pem() -> str:
    return receipt_key().public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def before_deadline(tender: Tender, at: datetime | None = None) -> None:
    if tender.status != "published" or deadline_passed(tender, at):  # R-B3
        raise Conflict(
            _l("The bid deadline has passed: bids are no longer accepted."),
            code="deadline_passed",
            details={"deadline": tender.bid_deadline.isoformat() if tender.bid_deadline else None},
        )


def not_paused(tender: Tender) -> None:
    """R-T4: while an objection to the documents waits for its answer, bidding is paused."""
    if tender.paused_at is not None:
        raise Conflict(
            _l("The tender is paused until the agency answers an objection to its documents."),
            code="tender_paused",
            details={"since": tender.paused_at.isoformat()},
        )


def _tenderer(actor: User) -> None:
    if actor.role != Role.TENDERER or actor.organization_id is None:
        raise Forbidden(_l("Only tenderers submit bids."), code="role_forbidden")
    verification.require_verified(actor.organization)  # identity before bidding


def open_bid(session: Session, actor: User, tender: Tender, lot_number: int, ip: str | None = None) -> Bid:
    _tenderer(actor)
    before_deadline(tender)
    not_paused(tender)
    refuse_if_debarred(session, "tenderer", actor.org.id, clock.now())  # R-R3
    if not any(lot.number == lot_number for lot in tender.lots):
        raise Invalid(_l("This tender has no lot %(n)s.", n=lot_number), code="lot_not_found")
    bid = Bid(
        tender_id=tender.id,
        lot_number=lot_number,
        organization_id=actor.organization_id,
        created_by_id=actor.id,
    )
    session.add(bid)
    session.flush()
    audit.record(
        session,
        actor,
        "bidding.bid_opened",
        bid,
        {"tender": str(tender.id), "lot": lot_number},
        ip,
        sealed=bid_scope(tender.id),
    )
    return bid


def own_bid(session: Session, actor: User, tender_id: uuid.UUID, bid_id: uuid.UUID) -> tuple[Tender, Bid]:
    """The actor's organisation's bid; 404 for anyone else (a bid's existence is confidential)."""
    bid = session.get(Bid, bid_id)
    if bid is None or bid.tender_id != tender_id or bid.organization_id != actor.organization_id:
        raise NotFound(_l("No such bid."), code="bid_not_found")
    return get_row(session, Tender, tender_id), bid


def read_signature(header: str | None) -> tuple[bytes, bidpack.EnvelopeSignature]:
    if not header or len(header) > MAX_SIGNATURE_HEADER:
        raise Invalid(
            _l("Send the outer signature (OUT.sig) in the X-Bid-Signature header, base64."),
            code="signature_missing",
        )
    try:
        raw = base64.b64decode(header, validate=True)
        return raw, bidpack.read_envelope_signature(raw)
    except (binascii.Error, ValueError, bidpack.BidError) as exc:
        raise Invalid(_l("The outer signature is malformed."), code="signature_malformed") from exc


def read_signature_text(text: str) -> tuple[bytes, bidpack.EnvelopeSignature]:
    """An OUT.sig kept as text (a resumable upload's): read as when it arrived."""
    raw = text.encode()
    return raw, bidpack.read_envelope_signature(raw)


def _refused(exc: Exception) -> DomainError:
    code = getattr(exc, "code", "bid_refused")
    return Invalid(_l("The sealed part was refused: %(reason)s", reason=str(exc)), code=code)


def receive_part(
    session: Session,
    actor: User,
    tender: Tender,
    bid: Bid,
    part: str,
    stream: IO[bytes],
    signature_header: str | None,
    store: FileStore,
    ip: str | None = None,
) -> BidPart:
    """Stream one sealed part into the store, then check it before keeping it (R-B1, R-B3).

    Call it before anything is written in the session's transaction: that transaction is ended while
    the part streams in (see below), and everything is read afresh afterwards.
    """
    if part not in bidpack.PARTS:
        raise Invalid(_l("Parts are qualification, technical and commercial."), code="invalid_part")
    still_open(bid)
    raw_signature, envelope = read_signature(signature_header)
    before_deadline(tender)
    not_paused(tender)
    # A part may stream for minutes. Holding the request's transaction meanwhile held SQLite's write
    # lock (every other upload and submission waited, then failed) and, on PostgreSQL, a pooled
    # connection per upload in a deadline rush. Nothing is written yet: drop the snapshot, and the
    # objects below reload with whatever changed while the part arrived.
    if has_written(session):  # rolling back would silently lose the caller's work
        raise RuntimeError("receive_part must run before the transaction writes anything")
    session.rollback()
    arriving = _LastByte(stream)
    stored = store.put_stream(arriving, max_size=MAX_PART_SIZE)
    # R-B3: judged by when the last byte arrived, not by when the file was synced or a lock was free
    completed_at = arriving.at or clock.now()
    take_write_lock(session)
    return accept_part(
        session, actor, tender, bid, part, stored, raw_signature, envelope, completed_at, store, ip
    )


def take_write_lock(session: Session) -> None:
    """From here on this transaction writes: on SQLite it begins with the write lock (core.db)."""
    with intent(True):
        session.connection()


def accept_part(
    session: Session,
    actor: User,
    tender: Tender,
    bid: Bid,
    part: str,
    stored: StoredFile,
    raw_signature: bytes,
    envelope: bidpack.EnvelopeSignature,
    completed_at: datetime,
    store: FileStore,
    ip: str | None = None,
) -> BidPart:
    """Check a part that is complete in the store against its outer signature and keep it (R-B1, R-B3):
    the one decision for a part sent in one request and for one sent in chunks (bidding/uploads.py)."""
    still_open(bid)
    before_deadline(tender, completed_at)
    not_paused(tender)
    statement = envelope.statement
    try:
        if (statement["tender"], statement["lot"], statement["part"]) != (
            str(tender.id),
            bid.lot_number,
            part,
        ):
            raise bidpack.BidPartMismatch("the signature is for another tender, lot or part")
        if (statement["ciphertext_sha256"], statement["ciphertext_size"]) != (stored.sha256, stored.size):
            raise bidpack.BidCiphertextMismatch("the file is not the one the signature covers")
        authority = pki.get_ca(session)
        signer = cms.verify_detached(
            envelope.cms_der,
            envelope.statement_bytes(),
            chain=pki.chain(authority),
            # As the opening will judge the inner signature: at completion, by the CRL in force then.
            crl=pki.crl_at(session, completed_at),
            at=completed_at,
            profile=ca.Profile.TENDERER_SIGNING,
        )
        if signer.certificate != envelope.certificate:
            raise bidpack.BidSignerMismatch(
                "the certificate in the signature file is not the one that signed"
            )
        if (
            signer.identity.credit_code != actor.org.credit_code
            or statement["tenderer"] != actor.org.credit_code
        ):
            raise bidpack.BidSignerMismatch("the bid is signed for another organisation")
        _check_sealed(store, stored)  # R-B1
    except (bidpack.BidError, cms.SignatureError, ca.CertificateError, age.AgeError) as exc:
        raise _refused(exc) from exc
    existing = next((p for p in bid.parts if p.part == part), None)
    if existing is not None:
        bid.parts.remove(existing)
        session.flush()
    row = BidPart(
        part=part,
        sha256=stored.sha256,
        size=stored.size,
        signature=raw_signature.decode(),
        signer_serial=format(signer.certificate.serial_number, "x"),
        received_at=completed_at,
    )
    bid.parts.append(row)
    session.flush()
    audit.record(
        session,
        actor,
        "bidding.bid_part_received",
        bid,
        {"part": part, "sha256": stored.sha256, "size": stored.size, "signer": row.signer_serial},
        ip,
        sealed=bid_scope(tender.id),
    )
    return row


class _LastByte:
    """The upload stream, noting the platform time at which its last byte arrived."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self.at: datetime | None = None

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        if not data and self.at is None:
            self.at = clock.now()
        return data


def still_open(bid: Bid) -> None:
    if bid.status != "uploading":
        raise Conflict(
            _l("This bid is already submitted; start a new one to replace it."), code="bid_not_open"
        )


def _check_sealed(store: FileStore, stored: StoredFile) -> None:
    """R-B1: only age envelopes to at least two recipients (the opening key and the tenderer's own)."""
    with store.open(stored.sha256) as f:
        try:
            header = age.read_header(f)
        except age.AgeError as exc:
            raise bidpack.BidEnvelopeInvalid(
                "not a sealed (age-encrypted) bid part: unencrypted uploads are refused"
            ) from exc
    if header.x25519_stanza_count < 2:
        raise bidpack.BidEnvelopeInvalid(
            "the envelope must be sealed to the opening key and the tenderer's own key"
        )


def submit(
    session: Session,
    actor: User,
    tender: Tender,
    bid: Bid,
    ip: str | None = None,
    *,
    arrived_at: datetime | None = None,
) -> str:
    """Complete the bid: every part present, on time; an earlier bid for the lot is replaced (R-B4).

    ``arrived_at``: when the request arrived (``core.extensions.arrived_at``). R-B3 judges the submission
    by it, not by when the database let this transaction write: a submit sent before the deadline
    while another write held the lock across it is on time, and its receipt says when it arrived.

    Submitting a submitted bid again answers with its receipt: a tenderer whose connection dropped after
    the commit retries and gets the receipt it is owed (R-B2), even after the deadline.
    """
    if bid.status == "submitted" and bid.receipt is not None:
        return bid.receipt
    if bid.status != "uploading":
        raise Conflict(_l("This bid is already submitted."), code="bid_not_open")
    arrived = arrived_at or clock.now()
    before_deadline(tender, arrived)
    not_paused(tender)
    refuse_if_debarred(session, "tenderer", bid.organization_id, clock.now())  # R-R3
    missing = [p for p in bidpack.PARTS if p not in {part.part for part in bid.parts}]
    if missing:
        raise Invalid(_l("Some parts are missing."), code="bid_parts_missing", details={"missing": missing})
    earlier = session.scalars(
        select(Bid).where(
            Bid.tender_id == tender.id,
            Bid.lot_number == bid.lot_number,
            Bid.organization_id == bid.organization_id,
            Bid.status == "submitted",
        )
    ).all()
    for old in earlier:
        old.status = "replaced"
    bid.status = "submitted"
    bid.submitted_at = arrived
    session.flush()
    entry = audit.record(
        session,
        actor,
        "bidding.bid_submitted",
        bid,
        {
            "tender": str(tender.id),
            "lot": bid.lot_number,
            "replaces": [str(o.id) for o in earlier],
            "parts": [{"part": p.part, "sha256": p.sha256, "size": p.size} for p in bid.parts],
        },
        ip,
        sealed=bid_scope(tender.id),
    )
    payload = receipts.build_receipt(
        tender_id=str(tender.id),
        lot=bid.lot_number,
        bid_id=str(bid.id),
        tenderer=actor.org.credit_code,
        parts=[{"part": p.part, "sha256": p.sha256, "size": p.size} for p in bid.parts],
        received_at=bid.submitted_at,
        audit_index=entry.index,
    )
    document = receipts.sign_receipt(payload, receipt_key())
    bid.receipt = document.decode()
    bid.audit_index = entry.index
    session.flush()
    return bid.receipt


def receipt_with_proof(session: Session, bid: Bid) -> str:
    """The bid's receipt with the log proof of its submission (crypto.logproof) and the submission's
    sealed content, which only its bidder is given: call it after the commit (the witness cosigns only
    committed entries); while there is no cosigned checkpoint yet, the receipt comes without it."""
    from audit import proofs

    if bid.receipt is None or bid.audit_index is None:
        raise NotFound(_l("This bid has no receipt yet."), code="receipt_not_found")
    proof = proofs.for_entry(session, bid.audit_index, disclose=True)
    return receipts.attach_proof(bid.receipt.encode(), proof).decode()


@dataclass
class ReceiptCheck:
    """What checking a receipt showed, step by step, for the receipt page: each step is ``(name, ok,
    code)``; ``alarm`` names a rollback or fork, which the page shows loudly."""

    steps: list[tuple[str, bool, str | None]] = field(default_factory=list)
    payload: dict | None = None
    tender_code: str | None = None
    alarm: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(ok for _name, ok, _code in self.steps)


def check_receipt(session: Session, document: bytes) -> ReceiptCheck:
    """Check a receipt as bidtool verify-receipt does, plus what only the platform can say: that its log
    still extends the receipt's checkpoint and that it still holds the bid as receipted."""
    from audit import cosign, log
    from crypto import logproof

    result = ReceiptCheck()
    try:
        payload = receipts.verify_receipt(document, receipt_key().public_key())
    except receipts.ReceiptError as exc:
        result.steps.append(("signature", False, exc.code))
        return result
    result.payload = payload
    result.steps.append(("signature", True, None))
    tender = session.get(Tender, _uuid(payload["tender_id"]))
    result.tender_code = tender.code if tender else None
    try:
        proven = receipts.verify_receipt_proof(payload, receipts.proof_of(document), cosign.trust())
    except logproof.ProofError as exc:
        result.steps.append(("proof", False, exc.code))
        proven = None
    else:
        result.steps.append(("proof", True, None))
    if proven is not None:
        latest = cosign.latest(session)
        try:
            if latest is None:
                raise logproof.CheckpointNotWitnessed("no cosigned checkpoint")
            current = cosign.trust().open(latest.note).checkpoint

            def fetch(old: int, new: int) -> list[bytes]:
                try:
                    return log.consistency_proof(session, old, new)
                except DomainError as exc:
                    raise LookupError(str(exc)) from exc

            if logproof.check_consistent(proven.checkpoint.checkpoint, current, fetch) is None:
                raise logproof.ForkDetected("no consistency proof")
        except (logproof.RollbackDetected, logproof.ForkDetected) as exc:
            result.steps.append(("consistent", False, exc.code))
            result.alarm = exc.code
        except logproof.ProofError as exc:
            result.steps.append(("consistent", False, exc.code))
        else:
            result.steps.append(("consistent", True, None))
    bid = session.get(Bid, _uuid(payload["bid_id"]))
    held = (
        bid is not None
        and [
            {"part": p.part, "sha256": p.sha256, "size": p.size}
            for p in sorted(bid.parts, key=lambda p: p.part)
        ]
        == payload["parts"]
    )
    result.steps.append(("kept", held, None if held else "bid_not_kept"))
    return result


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def withdraw(session: Session, actor: User, tender: Tender, bid: Bid, ip: str | None = None) -> Bid:
    """R-B4: withdraw before the deadline; the deposit is refunded within 5 days (R-D2)."""
    before_deadline(tender)
    if bid.status not in ("uploading", "submitted"):
        raise Conflict(_l("This bid is no longer active."), code="bid_not_active")
    bid.status = "withdrawn"
    bid.withdrawn_at = clock.now()
    session.flush()
    audit.record(
        session,
        actor,
        "bidding.bid_withdrawn",
        bid,
        {"tender": str(tender.id), "lot": bid.lot_number},
        ip,
        sealed=bid_scope(tender.id),
    )
    if not has_submitted_bid(session, tender.id, bid.organization_id, bid.lot_number):
        for deposit in session.scalars(
            select(Deposit).where(
                Deposit.tender_id == tender.id,
                Deposit.lot_number == bid.lot_number,
                Deposit.organization_id == bid.organization_id,
                Deposit.status == "held",
            )
        ):
            ledger.schedule_refund(session, deposit, "withdrawal", clock.now(), actor, ip)
    return bid


def referenced_files(session: Session) -> list[str]:
    """Every file the database points at (for ``FileStore.sweep`` after a crash)."""

    documents = session.scalars(select(TenderDocument.sha256).where(TenderDocument.sha256.is_not(None)))
    return list(session.scalars(select(BidPart.sha256))) + [sha for sha in documents if sha is not None]
