"""The online opening (开标, R-T5): at the deadline, fewer than three bids fail the tender (R-B5);
otherwise bidders decrypt their own bids online within a window by sending the per-part file keys,
the server opens each part streaming and checks its manifest and inner signature, and the opening
record (names, prices from the price sheets, decryption results, deposits) is signed (R-B7)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from accounts import pki
from accounts.models import Organization, User
from bidding import bids, custodians, hall_changes, hall_record, integrity, ledger, periods, permissions
from bidding.lifecycle import deadline_passed
from bidding.models import Bid, BidPart, Deposit, Objection, Opening, PartOpening, Tender
from core import clock
from core.db import get_row
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.keys import ColumnCipher
from core.storage import file_store
from crypto import age, bidpack, ca, canonical, receipts, shamir
from crypto import opening as opening_keys

MIN_BIDS = 3  # R-B5


def _opened_root() -> Path:
    return Path(current_app.config["STORAGE_PATH"]) / "opened"


def submitted(session: Session, tender: Tender) -> list[Bid]:
    return list(
        session.scalars(
            select(Bid)
            .where(Bid.tender_id == tender.id, Bid.status == "submitted")
            .order_by(Bid.submitted_at)
        )
    )


def start(session: Session, actor: User | None, tender: Tender, ip: str | None = None) -> Opening:
    """R-T5 the opening happens at the deadline, online; R-B5 fewer than three bids fail the tender.

    ``actor`` None: the platform starts it by itself at the deadline (the beat job ``start_due``); the
    agency's start button is the fallback where no scheduler runs."""
    if actor is not None and not permissions.runs(session, actor, tender):
        raise Forbidden(_l("Only the tender's agency runs its opening."), code="role_forbidden")
    if tender.status != "published" or not deadline_passed(tender):
        raise Conflict(
            _l("The opening starts at the bid deadline."),
            code="opening_too_early",
            details={"deadline": tender.bid_deadline.isoformat() if tender.bid_deadline else None},
        )
    if session.get(Opening, tender.id) is not None:
        raise Conflict(_l("The opening has already started."), code="opening_started")
    if tender.paused_at is not None:  # R-T4
        raise Conflict(
            _l("The tender is paused until the agency answers an objection to its documents."),
            code="tender_paused",
        )
    received = submitted(session, tender)
    now = clock.now()
    started_by = actor.id if actor is not None else None
    counts = {lot.number: sum(1 for b in received if b.lot_number == lot.number) for lot in tender.lots}
    if all(count < MIN_BIDS for count in counts.values()):
        opening = Opening(tender_id=tender.id, started_by_id=started_by, started_at=now, status="failed")
        tender.status = "failed"
        for deposit in session.scalars(
            select(Deposit).where(Deposit.tender_id == tender.id, Deposit.status == "held")
        ):
            ledger.schedule_refund(
                session, deposit, "failure", now, actor, ip
            )  # 条例31: refund with interest
    else:
        opening = Opening(
            tender_id=tender.id,
            started_by_id=started_by,
            started_at=now,
            status="decrypting",
            decrypt_until=periods.decryption_closes(now),
        )
    session.add(opening)
    session.flush()
    audit.record(
        session,
        actor,
        "bidding.opening_started",
        tender,
        {
            "bids_per_lot": {str(k): v for k, v in counts.items()},
            "status": opening.status,
            "rule": "R-B5" if opening.status == "failed" else "R-T5",
            "by": "agency" if actor is not None else "platform",
        },
        ip,
    )
    hall_changes.touch(session, tender.id)
    return opening


def due_to_start(session: Session) -> list[Tender]:
    """Published tenders past their deadline whose opening has not started and that are not paused
    (R-T4 holds a paused one until the agency answers)."""
    return list(
        session.scalars(
            select(Tender)
            .outerjoin(Opening, Opening.tender_id == Tender.id)
            .where(
                Tender.status == "published",
                Tender.bid_deadline <= clock.now(),
                Tender.paused_at.is_(None),
                Opening.tender_id.is_(None),
            )
            .order_by(Tender.bid_deadline)
        )
    )


def due_to_close(session: Session) -> list[Tender]:
    """Openings whose decryption window has ended with every bid fully opened and no objection waiting:
    nothing is left for the agency to judge (R-B6), so the platform closes them and signs the record.
    The others wait for the agency's checklist."""
    candidates = session.scalars(
        select(Tender)
        .join(Opening, Opening.tender_id == Tender.id)
        .where(Opening.status == "decrypting", Opening.decrypt_until <= clock.now())
    ).all()
    return [tender for tender in candidates if not _left_to_judge(session, tender)]


def _left_to_judge(session: Session, tender: Tender) -> bool:
    for bid in submitted(session, tender):
        for part in bid.parts:
            done = session.get(PartOpening, part.id)
            if done is None or done.status != "ok":
                return True
    unanswered = session.scalar(
        select(Objection.id).where(
            Objection.tender_id == tender.id, Objection.stage == "opening", Objection.answered_at.is_(None)
        )
    )
    return unanswered is not None


def _decode_keys(file_keys: dict) -> dict[str, bytes]:
    keys = {}
    for part, value in (file_keys or {}).items():
        try:
            raw = base64.b64decode(str(value), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Invalid(
                _l("File keys are base64."), code="invalid_file_key", details={"part": part}
            ) from exc
        if part not in bidpack.PARTS or len(raw) != 16:
            raise Invalid(
                _l("Each file key is 16 bytes for a known part."),
                code="invalid_file_key",
                details={"part": part},
            )
        keys[part] = raw
    if not keys:
        raise Invalid(
            _l("Send the file key of each part."), code="missing_fields", details={"fields": ["file_keys"]}
        )
    return keys


@dataclass(frozen=True)
class PartState:
    """What a decryption request did to one part, or found: the bidder is told about every part."""

    part: str
    status: str  # ok | failed | pending
    failure_code: str | None
    price_fen: int | None
    attempt: str  # opened | failed | already_opened | not_sent
    platform_fault: bool


def decrypt(
    session: Session, actor: User, tender: Tender, bid: Bid, file_keys: dict, ip: str | None = None
) -> list[PartState]:
    """Online decryption (在线解密) by the bid's owner within the window; each part is checked.

    Every part of the bid is answered for: a part opened before is not opened again ("already_opened",
    with its result), a failed one is tried again with the key sent (a wrong key can be corrected
    within the window, R-B6), a part without a key keeps its state."""
    opening = session.get(Opening, tender.id)
    if opening is None or opening.status != "decrypting":
        raise Conflict(
            _l("Bids can be decrypted only while the opening is decrypting."), code="opening_not_decrypting"
        )
    if opening.decrypt_until is None or clock.now() >= opening.decrypt_until:
        raise Conflict(_l("The decryption window has closed."), code="decryption_window_closed")
    if bid.status != "submitted":
        raise Conflict(_l("Only a submitted bid is decrypted."), code="bid_not_active")
    keys = _decode_keys(file_keys)
    authority = pki.get_ca(session)
    chain = pki.chain(authority)

    store = file_store()
    states, results = [], []
    for part in sorted(bid.parts, key=lambda p: p.part):
        done = session.get(PartOpening, part.id)
        if done is not None and done.status == "ok":
            states.append(_state(part, done, "already_opened"))
            continue
        if part.part not in keys:
            states.append(_state(part, done, "not_sent"))
            continue
        if done is not None:
            session.delete(done)
            session.flush()
        result = _open_part(session, tender, bid, part, store, chain, file_key=keys[part.part])
        results.append(result)
        states.append(_state(part, result, "opened" if result.status == "ok" else "failed"))
    session.flush()
    audit.record(
        session,
        actor,
        "bidding.bid_decrypted",
        bid,
        {
            "parts": {r.part_id.hex: r.status for r in results},
            "failures": sorted({r.failure_code for r in results if r.failure_code}),
        },
        ip,
    )
    hall_changes.touch(session, tender.id)
    return states


def _state(part: BidPart, outcome: PartOpening | None, attempt: str) -> PartState:
    return PartState(
        part=part.part,
        status=outcome.status if outcome is not None else "pending",
        failure_code=outcome.failure_code if outcome is not None else None,
        price_fen=outcome.price_fen if outcome is not None else None,
        attempt=attempt,
        platform_fault=outcome is not None and outcome.failure_code == bidpack.StoredPartAltered.code,
    )


def _open_part(
    session: Session,
    tender: Tender,
    bid: Bid,
    part: BidPart,
    store,
    chain,
    *,
    file_key: bytes | None = None,
    identities: list | None = None,
) -> PartOpening:
    """Open one stored part (by file key or identity) into the opened area and record the outcome."""

    dest = _opened_root() / str(tender.id) / str(bid.id) / part.part
    shutil.rmtree(dest, ignore_errors=True)  # a failed earlier attempt leaves nothing; be sure
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        opened = bidpack.open_part(
            store.path_for(part.sha256),
            dest,
            file_key=file_key,
            identities=identities,
            chain=chain,
            # Judged as at receipt, by the CRL in force then: a certificate revoked after the platform
            # accepted the part does not turn a valid bid into a failed one (R-B6).
            crl=pki.crl_at(session, part.received_at),
            at=part.received_at,
            tender=str(tender.id),
            lot=bid.lot_number,
            part=part.part,
            # The outcome is committed right after: the files it vouches for must be on disk first.
            sync=True,
            # Judged against the receipt, in the same pass that decrypts: an envelope changed in the
            # store is the platform's fault, never the tenderer's (R-B6).
            expect_sha256=part.sha256,
            expect_size=part.size,
        )
    except bidpack.StoredPartAltered as exc:
        result = PartOpening(part_id=part.id, status="failed", failure_code=exc.code)
        result.evidence = integrity.platform_fault_evidence(part, exc.details)
        integrity.record_fault(session, tender, bid, part, exc.details, "opening")
    except (bidpack.BidError, age.AgeError, ca.CertificateError) as exc:
        result = PartOpening(part_id=part.id, status="failed", failure_code=getattr(exc, "code", "failed"))
        if identities is not None:  # the rebuilt opening key failed too: keep what shows whose fault
            failure = result.failure_code or "failed"
            result.evidence = _evidence(store, part, str(identities[0].recipient), failure)
    else:
        sheet = opened.manifest.get("price_sheet")
        result = PartOpening(
            part_id=part.id,
            status="ok",
            manifest=opened.manifest,
            price_sheet=sheet,
            price_fen=sheet["total_fen"] if sheet else None,
            manifest_sha256=hashlib.sha256(canonical.canonical_json(opened.manifest)).hexdigest(),
        )
    result.opened_with = "file_key" if file_key is not None else "opening_key"
    session.add(result)
    return result


def _evidence(store, part: BidPart, opening_key: str, failure: str) -> dict:
    """R-B1, R-B6: the platform cannot see to whom an envelope's stanzas are addressed, so a part sealed to
    some other key beside the tenderer's own is accepted; if its owner then does not decrypt it and the
    opening key cannot either, the envelope re-hashed here is the one the tenderer signed, byte for
    byte: nothing the platform did made it unreadable, and the failure is the tenderer's."""
    digest = hashlib.sha256()
    with store.open(part.sha256) as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    with store.open(part.sha256) as f:
        recipients = age.read_header(f).x25519_stanza_count
    return {
        "failure": failure,
        "opening_key": opening_key,
        "signed_sha256": part.sha256,
        "stored_sha256": digest.hexdigest(),
        "x25519_recipients": recipients,
    }


def tenderers_fault(outcomes: list[PartOpening | None]) -> bool:
    """Established fault (R-B6): a part the rebuilt opening key could not open although the platform
    still holds exactly what the tenderer signed."""
    return any(
        o is not None
        and o.status == "failed"
        and o.opened_with == "opening_key"
        and o.evidence is not None
        and o.evidence["stored_sha256"] == o.evidence["signed_sha256"]
        for o in outcomes
    )


def platform_fault(outcomes: list[PartOpening | None]) -> bool:
    """A part whose stored envelope is not the one receipted: the platform's fault (R-B6)."""
    return any(o is not None and o.failure_code == bidpack.StoredPartAltered.code for o in outcomes)


def record(session: Session, tender: Tender) -> dict:
    """The opening record's content: every submitted bid with its tenderer, price and results (R-B7)."""
    opening = session.get(Opening, tender.id)
    if opening is None:
        raise NotFound(_l("The opening has not started."), code="opening_not_started")
    rows = []
    for bid in submitted(session, tender):
        org = get_row(session, Organization, bid.organization_id)
        outcomes = {p.part: session.get(PartOpening, p.id) for p in bid.parts}
        commercial = outcomes.get("commercial")
        deposit = session.scalar(
            select(Deposit)
            .where(
                Deposit.tender_id == tender.id,
                Deposit.lot_number == bid.lot_number,
                Deposit.organization_id == bid.organization_id,
            )
            .order_by(Deposit.created_at.desc())
        )
        rows.append(
            {
                "bid": str(bid.id),
                "lot": bid.lot_number,
                "tenderer": org.name,
                "credit_code": org.credit_code,
                "submitted_at": receipts.format_time(bid.submitted_at) if bid.submitted_at else None,
                "price_fen": commercial.price_fen if commercial and commercial.status == "ok" else None,
                "decryption": {part: (o.status if o else "pending") for part, o in sorted(outcomes.items())},
                "failures": sorted({o.failure_code for o in outcomes.values() if o and o.failure_code}),
                # R-B6: the stored envelope was not the receipted one; the platform's fault
                "platform_fault": platform_fault(list(outcomes.values())),
                # R-B6: tried with the opening key too, and what that showed (R-B1)
                "opening_key_evidence": {
                    part: o.evidence for part, o in sorted(outcomes.items()) if o is not None and o.evidence
                }
                or None,
                "deposit": {"kind": deposit.kind, "status": deposit.status, "amount_fen": deposit.amount_fen}
                if deposit
                else None,
                "outcome": bid.outcome,
                "outcome_reason": bid.outcome_reason,
            }
        )
    return {
        "v": 1,
        "type": "sunbid-opening-record",
        "tender": str(tender.id),
        "code": tender.code,
        "title": tender.title,
        "status": opening.status,
        "opened_at": receipts.format_time(opening.started_at),
        "decrypt_until": receipts.format_time(opening.decrypt_until) if opening.decrypt_until else None,
        "bids": rows,
        "objections": [
            {
                "raised_by": get_row(session, Organization, o.organization_id).name
                if o.organization_id
                else None,
                "text": o.text,
                "raised_at": receipts.format_time(o.raised_at),
                "answer": o.answer,
                "answered_at": receipts.format_time(o.answered_at) if o.answered_at else None,
            }
            for o in session.scalars(
                select(Objection)
                .where(Objection.tender_id == tender.id, Objection.stage == "opening")
                .order_by(Objection.raised_at)
            )
        ],
    }


def signed_record(session: Session, tender: Tender) -> bytes:
    """The record signed by the platform (the receipt key), as shown to every bidder; once the
    opening is closed, the record signed then and kept."""
    opening = session.get(Opening, tender.id)
    if opening is not None and opening.record is not None:
        return opening.record.encode()
    content = record(session, tender)
    signature = bids.receipt_key().sign(canonical.canonical_json(content))
    return canonical.canonical_json(
        {
            "record": content,
            "signature": base64.b64encode(signature).decode(),
            "alg": "Ed25519",
            "key_id": receipts.public_key_id(bids.receipt_key().public_key()),
        }
    )


def record_with_proof(session: Session, tender: Tender) -> bytes:
    """The signed record as served: once the opening is closed, with the log proof of the closing entry,
    whose ``record_sha256`` is the SHA-256 of this document without ``"proof"`` (canonical JSON).
    Call it outside a unit of work: the witness cosigns only committed entries."""
    import json

    from audit import proofs

    document = signed_record(session, tender)
    opening = session.get(Opening, tender.id)
    if opening is None or opening.record is None:
        return document
    served = json.loads(document)
    served["proof"] = proofs.for_action(session, "bidding.opening_closed", tender.id)
    return canonical.canonical_json(served)


def record_proven(session: Session, tender: Tender) -> dict | None:
    """For the tender page: whether the signed record is the one the log holds, in a checkpoint the
    witness cosigned (the same checks a reader of the served record makes offline)."""
    import json

    from audit import cosign
    from crypto import logproof

    served = json.loads(record_with_proof(session, tender))
    proof = served.pop("proof", None)
    if proof is None:
        return None
    try:
        proven = logproof.verify_proof(proof, cosign.trust())
    except logproof.ProofError as exc:
        return {"ok": False, "code": exc.code}
    named = (proven.entry.get("data") or {}).get("record_sha256")
    ok = named == hashlib.sha256(canonical.canonical_json(served)).hexdigest()
    return {
        "ok": ok,
        "code": None if ok else "sealed_content_mismatch",
        "index": proven.index,
        "size": proven.checkpoint.checkpoint.size,
    }


# -- custodians ---------------------------------------------------------------------------------------


def _cipher():
    return ColumnCipher(current_app.config["DATA_KEY"])


def release_share(session: Session, actor: User, tender: Tender, text: str, ip: str | None = None):
    """A custodian releases its opening-key share after the deadline; it must match the published hash."""

    share = custodians.share_of(session, actor, tender)
    opening = session.get(Opening, tender.id)
    if opening is None or opening.status == "failed":
        raise Conflict(
            _l("Shares are released only once the opening has started."), code="opening_not_started"
        )
    try:
        opening_keys.verify_released_share(text, share.share_sha256)
    except ValueError as exc:
        raise Invalid(
            _l("This is not your published share of this tender's key."), code="share_mismatch"
        ) from exc
    if share.released_at is None:
        share.released = _cipher().seal("opening-share", text.strip().encode())
        share.released_at = clock.now()
        session.flush()
        audit.record(
            session,
            actor,
            "bidding.share_released",
            tender,
            {"custodian": share.role, "x": share.x, "share_sha256": share.share_sha256},
            ip,
        )
        hall_changes.touch(session, tender.id)
    return share


def open_with_opening_key(
    session: Session, actor: User, tender: Tender, bid_ids: list, ip: str | None = None
) -> list[PartOpening]:
    """Open bids whose owners could not decrypt through no fault of their own (R-B6), with the
    opening key rebuilt from the released shares and checked against the published recipient."""

    if not permissions.runs(session, actor, tender):
        raise Forbidden(_l("Only the tender's agency runs its opening."), code="role_forbidden")
    opening = session.get(Opening, tender.id)
    if opening is None or opening.status != "decrypting":
        raise Conflict(
            _l("Bids can be decrypted only while the opening is decrypting."), code="opening_not_decrypting"
        )
    key = tender.key
    released = [s for s in key.shares if s.released is not None]
    try:
        identity = opening_keys.reconstruct(
            [shamir.Share.decode(_cipher().open("opening-share", s.released).decode()) for s in released],
            age.Recipient.parse(key.recipient),
        )
    except ValueError as exc:
        raise Conflict(
            _l("Not enough custodians have released their shares."),
            code="not_enough_shares",
            details={"released": len(released), "needed": key.threshold},
        ) from exc
    authority = pki.get_ca(session)
    chain = pki.chain(authority)

    store = file_store()
    results = []
    for bid_id in bid_ids:
        bid = session.get(Bid, bid_id)
        if bid is None or bid.tender_id != tender.id or bid.status != "submitted":
            raise NotFound(_l("No such bid."), code="bid_not_found")
        parts = {part.id for part in bid.parts}
        for part in bid.parts:
            done = session.get(PartOpening, part.id)
            if done is not None and done.status == "ok":
                continue
            if done is not None:
                session.delete(done)
                session.flush()
            results.append(_open_part(session, tender, bid, part, store, chain, identities=[identity]))
        audit.record(
            session,
            actor,
            "bidding.bid_opened_by_custodians",
            bid,
            {
                "rule": "R-B6",
                "parts": [p.part for p in bid.parts],
                "evidence": {r.part_id.hex: r.evidence for r in results if r.evidence and r.part_id in parts},
            },
            ip,
        )
    session.flush()
    hall_changes.touch(session, tender.id)
    return results


# -- closing: every bid classified (R-B6), the record signed and kept ---------------------------------


def close(
    session: Session,
    actor: User | None,
    tender: Tender,
    no_fault: dict[str, str] | None = None,
    *,
    forfeit_revoked: bool = True,
    ip: str | None = None,
) -> Opening:
    """Close the opening. A bid not fully decrypted counts as revoked (撤销, the tenderer's fault: no
    keys sent in time, wrong keys, a bad signature or manifest) unless the agency records that it
    failed through no fault of the tenderer (e.g. the platform was down), when it counts as withdrawn
    (撤回) and its deposit is refunded (R-B6). The others' opening goes on regardless.

    ``actor`` None: the platform closes an opening that leaves nothing to judge (``due_to_close``)."""
    if actor is not None and not permissions.runs(session, actor, tender):
        raise Forbidden(_l("Only the tender's agency runs its opening."), code="role_forbidden")
    opening = session.get(Opening, tender.id)
    if opening is None or opening.status != "decrypting":
        raise Conflict(_l("Only a running opening is closed."), code="opening_not_decrypting")
    received = submitted(session, tender)
    outcomes = {bid.id: [session.get(PartOpening, p.id) for p in bid.parts] for bid in received}
    complete = {
        bid_id for bid_id, parts in outcomes.items() if all(o is not None and o.status == "ok" for o in parts)
    }
    until = opening.decrypt_until
    if until is not None and clock.now() < until and len(complete) < len(received):
        raise Conflict(
            _l(
                "Bidders may still decrypt until %(until)s.",
                until=receipts.format_time(until),
            ),
            code="decryption_window_open",
        )
    unanswered = session.scalar(
        select(Objection.id).where(
            Objection.tender_id == tender.id, Objection.stage == "opening", Objection.answered_at.is_(None)
        )
    )
    if unanswered is not None:  # R-B7: answered there
        raise Conflict(_l("Answer the objections raised at the opening first."), code="objections_unanswered")
    no_fault = {str(k): str(v).strip() for k, v in (no_fault or {}).items()}
    known = {str(bid.id) for bid in received}
    if set(no_fault) - known or any(not reason for reason in no_fault.values()):
        raise Invalid(
            _l("Name submitted bids that failed, each with the reason it was no fault of the tenderer."),
            code="invalid_no_fault",
            details={"unknown": sorted(set(no_fault) - known)},
        )
    # R-B1, R-B6: a bid the opening key could not open either, from exactly what its tenderer signed, failed
    # through the tenderer's fault; nobody may record it otherwise.
    established = sorted(
        str(bid.id)
        for bid in received
        if bid.id not in complete
        and tenderers_fault(outcomes[bid.id])
        and not platform_fault(outcomes[bid.id])
    )
    if set(established) & set(no_fault):
        raise Invalid(
            _l(
                "The opening key could not open these bids either, although the platform holds exactly what "
                "their tenderers signed: the failure is the tenderer's, not a case for no fault (R-B6)."
            ),
            code="tenderer_at_fault",
            details={"bids": sorted(set(established) & set(no_fault)), "rule": "R-B6"},
        )
    now = clock.now()
    summary = {}
    for bid in received:
        deposit = session.scalar(
            select(Deposit).where(
                Deposit.tender_id == tender.id,
                Deposit.lot_number == bid.lot_number,
                Deposit.organization_id == bid.organization_id,
                Deposit.status == "held",
            )
        )
        if bid.id in complete:
            bid.outcome, bid.outcome_reason = "opened", None
        elif platform_fault(outcomes[bid.id]):
            # R-B6: the platform did not keep what it receipted; whatever else failed, not the tenderer's
            # fault: withdrawn (撤回), the deposit refunded, the incident on the supervisors' record.
            bid.outcome, bid.outcome_reason = "withdrawn", bidpack.StoredPartAltered.code
            if deposit is not None:
                ledger.schedule_refund(session, deposit, "withdrawal", now, actor, ip)
            integrity.report_at_close(session, actor, tender, bid, ip)
        elif str(bid.id) in no_fault:
            bid.outcome, bid.outcome_reason = "withdrawn", no_fault[str(bid.id)][:500]
            if deposit is not None:
                ledger.schedule_refund(session, deposit, "withdrawal", now, actor, ip)
        else:
            codes = sorted({o.failure_code for o in outcomes[bid.id] if o is not None and o.failure_code})
            bid.outcome, bid.outcome_reason = "revoked", ", ".join(codes) or "not_decrypted"
            if deposit is not None:
                if forfeit_revoked:
                    ledger.forfeit(session, deposit, "R-B6 " + bid.outcome_reason, actor, ip)
                else:
                    ledger.schedule_refund(session, deposit, "withdrawal", now, actor, ip)
        summary[str(bid.id)] = {"outcome": bid.outcome, "reason": bid.outcome_reason}
    opening.status = "closed"
    session.flush()
    opening.record = signed_record(session, tender).decode()
    # 开标记录表: the same record as a PDF in Chinese, signed by the platform (PAdES), kept in the store
    opening.record_pdf_sha256 = hall_record.issue(session, tender, opening)
    session.flush()
    hall_changes.touch(session, tender.id)
    audit.record(
        session,
        actor,
        "bidding.opening_closed",
        tender,
        {
            "rule": "R-B6",
            "bids": summary,
            "record_sha256": hashlib.sha256(opening.record.encode()).hexdigest(),
            "record_pdf_sha256": opening.record_pdf_sha256,
        },
        ip,
    )
    return opening
