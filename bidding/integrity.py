"""The file store checked against the receipts (R-B2, R-B6): a bid is never judged by a file the platform
did not keep as it received it.

Every stored bid part is named by the SHA-256 its tenderer signed and the platform receipted. The
opening hashes each part while it decrypts it (``crypto.bidpack.open_part``); a mismatch there, or in
``flask storage verify`` and its daily beat job, is a **platform fault**: logged for the supervisors (a
sealed entry until the deadline, R-B4), told to the bidder (who can still replace its bid before the
deadline), and at the closing of the opening the bid counts as withdrawn with its deposit refunded,
never as revoked (R-B6).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from bidding.models import Bid, BidPart, Tender, TenderDocument
from bidding.permissions import bid_scope
from core.db import get_row
from core.notifications import notify
from core.storage import FileOwner, FileStore, Finding, verify_files
from crypto import bidpack

FAULT = bidpack.StoredPartAltered.code


def platform_fault_evidence(part: BidPart, details: dict) -> dict:
    """What the opening record shows for such a part: what was receipted and what the store held."""
    return {
        "failure": FAULT,
        "fault": "platform",
        "signed_sha256": part.sha256,
        "signed_size": part.size,
        "stored_sha256": details.get("stored_sha256"),
        "stored_size": details.get("stored_size"),
        "rule": "R-B6",
    }


def record_fault(
    session: Session,
    tender: Tender,
    bid: Bid,
    part: BidPart,
    details: dict,
    found_by: str,
    actor: Any = None,
    ip: str | None = None,
) -> None:
    """Log the fault (sealed under the tender's bids until the deadline) and tell the bidder."""
    audit.record(
        session,
        actor,
        "bidding.stored_part_altered",
        bid,
        {
            "tender": str(tender.id),
            "part": part.part,
            "signed_sha256": part.sha256,
            "stored_sha256": details.get("stored_sha256"),
            "found_by": found_by,
            "fault": "platform",
            "rule": "R-B6",
        },
        ip,
        sealed=bid_scope(tender.id),
    )
    from accounts.models import User

    submitter = session.get(User, bid.created_by_id)
    if submitter is not None:
        notify(
            session,
            submitter,
            str(_l("A stored part of your bid was found damaged: %(code)s", code=tender.code)),
            str(
                _l(
                    "The platform does not hold your %(part)s part as it receipted it. This is the "
                    "platform's fault, not yours: before the deadline you may upload the part again; after "
                    "it, the bid "
                    "counts as withdrawn and your deposit is refunded (R-B6).",
                    part=part.part,
                )
            ),
            f"/tenders/{tender.id}",
        )


def report_at_close(session: Session, actor: Any, tender: Tender, bid: Bid, ip: str | None) -> None:
    """The incident, as the closing of the opening decides it: for the supervisors' record."""
    from bidding import permissions

    audit.record(
        session,
        actor,
        "bidding.platform_fault_withdrawn",
        bid,
        {"tender": str(tender.id), "outcome": "withdrawn", "deposit": "refunded", "rule": "R-B6"},
        ip,
    )
    for assignment, user in permissions.team(session, tender):
        if assignment.kind != "supervisor":
            continue
        notify(
            session,
            user,
            str(_l("Platform fault at the opening of %(code)s", code=tender.code)),
            str(
                _l(
                    "A bid could not be opened because the platform no longer held the part it had "
                    "receipted. The bid counts as withdrawn and its deposit is refunded (R-B6). See the "
                    "tender's audit "
                    "trail and run the storage check."
                )
            ),
            f"/tenders/{tender.id}",
        )


# -- the whole store ------------------------------------------------------------------------------------


def file_owners(session: Session) -> Iterator[FileOwner]:
    """Who each bidding file belongs to, for ``flask storage verify``: bid parts by tender and bid,
    tender documents by tender."""
    rows = session.execute(
        select(BidPart, Bid, Tender.code)
        .join(Bid, BidPart.bid_id == Bid.id)
        .join(Tender, Bid.tender_id == Tender.id)
        .order_by(Tender.code, Bid.id, BidPart.part)
    )
    for part, bid, code in rows:
        yield FileOwner(part.sha256, part.size, code, f"bid {bid.id} {part.part}", ("bid_part", part.id))
    documents = session.execute(
        select(TenderDocument, Tender.code)
        .join(Tender, TenderDocument.tender_id == Tender.id)
        .where(TenderDocument.sha256.is_not(None))
    )
    for document, code in documents:
        assert document.sha256 is not None  # the query keeps only documents with a file
        yield FileOwner(
            document.sha256, document.size, code, f"document {document.filename}", ("document", document.id)
        )


def record_findings(session: Session, findings: Iterable[Finding]) -> int:
    """The beat job's part: each damaged bid part logged once (per stored hash) and its bidder told."""
    recorded = 0
    for finding in findings:
        # an unnamed file (only in sunbid.file_refs) has no owner row: ref is empty, nothing to record
        if finding.ok or finding.owner.ref[:1] != ("bid_part",):
            continue
        part = session.get(BidPart, finding.owner.ref[1])
        if part is None:
            continue
        bid = get_row(session, Bid, part.bid_id)
        seen = session.scalars(
            select(audit.AuditEntry.sealed).where(
                audit.AuditEntry.action == "bidding.stored_part_altered",
                audit.AuditEntry.target_id == str(bid.id),
            )
        ).all()
        if any(finding.found_sha256 and finding.found_sha256.encode() in (s or b"") for s in seen):
            continue
        details = {"stored_sha256": finding.found_sha256 or "missing", "stored_size": finding.found_size}
        record_fault(session, get_row(session, Tender, bid.tender_id), bid, part, details, "storage_check")
        recorded += 1
    return recorded


def check_store(session: Session, store: FileStore, owners: Iterable[FileOwner]) -> list[Finding]:
    return verify_files(store, owners)
