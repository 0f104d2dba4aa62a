"""What bidding keeps in a tender's archive (R-R2, audit.archive): the notice, the documents with every
amendment and clarification and their signed statements, each bid as sealed (parts, outer signatures,
receipt) and as opened, and the signed opening record."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from audit.archive import Member, json_member
from bidding.models import Bid, Opening, Tender, TenderDocument
from bidding.serializers import tender_json
from core import clock
from core.filenames import clean
from core.storage import file_store


def members(session: Session, tender_id) -> Iterator[Member]:
    tender = session.get(Tender, tender_id)
    if tender is None:
        return
    store = file_store()
    yield json_member("notice.json", tender_json(tender, clock.now()))
    documents = session.scalars(
        select(TenderDocument).where(TenderDocument.tender_id == tender.id).order_by(TenderDocument.version)
    )
    for document in documents:
        folder = f"documents/{document.version:03d}-{document.kind}"
        yield json_member(f"{folder}/notice.json", {"title": document.title, "body": document.body})
        if document.sha256:
            yield Member(f"{folder}/{clean(document.filename)}", path=store.path_for(document.sha256))
        if document.statement:
            yield Member(f"{folder}/statement.json", document.statement.encode())
    bids = session.scalars(
        select(Bid).where(Bid.tender_id == tender.id, Bid.receipt.is_not(None)).order_by(Bid.submitted_at)
    )
    opened_root = Path(current_app.config["STORAGE_PATH"]) / "opened" / str(tender.id)
    for bid in bids:
        assert bid.receipt is not None  # the query keeps only submitted bids (they have their receipt)
        yield Member(f"bids/{bid.id}/receipt.json", bid.receipt.encode())
        for part in sorted(bid.parts, key=lambda p: p.part):
            yield Member(f"bids/{bid.id}/{part.part}.age", path=store.path_for(part.sha256))
            yield Member(f"bids/{bid.id}/{part.part}.age.sig", part.signature.encode())
            opened = opened_root / str(bid.id) / part.part
            if opened.is_dir():
                for path in sorted(p for p in opened.rglob("*") if p.is_file()):
                    yield Member(
                        f"opened/{bid.id}/{part.part}/{path.relative_to(opened).as_posix()}", path=path
                    )
    opening = session.get(Opening, tender.id)
    if opening is not None and opening.record is not None:
        yield Member("opening/record.json", opening.record.encode())
    if opening is not None and opening.record_pdf_sha256 is not None:
        # 开标记录表 as signed (PAdES) at the close: the store keeps it under its SHA-256, which the
        # bidding.opening_closed entry names, so the archive attests the very file (R-B7, R-R2).
        yield Member("opening/record.pdf", path=store.path_for(opening.record_pdf_sha256))
