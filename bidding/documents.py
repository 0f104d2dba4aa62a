"""Tender documents (招标文件), clarifications (澄清) and amendments (修改).

Documents are uploaded while the tender is a draft and issued with the notice; afterwards the
documents change only through a numbered clarification or amendment, each with the platform's signed
statement of what was issued and when (R-R2). One that can affect bid preparation and comes less than
15 days before the deadline pushes the deadline out (R-T3, with R-T6 day counting), and everyone who
downloaded the documents is told (in the app and by e-mail). Downloads are recorded; only the agency
and the tenderee see them before the deadline (R-T2).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from datetime import datetime
from typing import BinaryIO

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import audit
from accounts import pki
from accounts.models import Organization, User
from bidding import bids, periods, permissions
from bidding import opening as openings
from bidding.calendar import Calendar
from bidding.lifecycle import deadline_passed
from bidding.models import DocumentDownload, Tender, TenderDocument
from core import clock, filenames
from core.bodies import LARGEST_FILE
from core.db import get_row
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.notifications import notify
from core.present import when
from core.roles import Role
from core.storage import FileStore
from crypto import ca, canonical, cms, receipts

MAX_DOCUMENT_SIZE = LARGEST_FILE  # the signature check reads the file whole
STATEMENT_TYPE = "sunbid-tender-document"


def _own_agency(session: Session, actor: User, tender: Tender) -> None:
    permissions.require_runs(session, actor, tender)


def _filename(name: str | None) -> str:
    clean = filenames.clean(name, max_length=1000)
    if not clean or len(clean) > filenames.MAX_LENGTH:
        raise Invalid(
            _l("Give the file a name of at most 200 characters."),
            code="invalid_filename",
            details={"field": "filename"},
        )
    return clean


def _title(title: str | None) -> str:
    text = (title or "").strip()
    if not 2 <= len(text) <= 200:
        raise Invalid(
            _l("Give a title of 2 to 200 characters."), code="invalid_title", details={"field": "title"}
        )
    return text


def _next_version(session: Session, tender: Tender) -> int:
    last = session.scalar(
        select(func.max(TenderDocument.version)).where(TenderDocument.tender_id == tender.id)
    )
    return (last or 0) + 1


def _agency_signature(
    session: Session, actor: User, store: FileStore, sha256: str, signature_b64: str | None
) -> tuple[str | None, str | None]:
    """Check the agency staff member's own CMS signature over the file, when one is sent."""
    if not signature_b64:
        return None, None
    try:
        der = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Invalid(_l("The signature is base64 (DER)."), code="invalid_signature") from exc
    authority = pki.get_ca(session)
    with store.open(sha256) as data:
        try:
            signer = cms.verify_detached(
                der, data, chain=pki.chain(authority), crl=pki.current_crl(session), at=clock.now()
            )
        except (cms.SignatureError, ca.CertificateError) as exc:
            raise Invalid(
                _l("The signature does not verify: %(reason)s", reason=str(exc)),
                code=getattr(exc, "code", "signature_invalid"),
            ) from exc
    agency = actor.org
    if signer.identity.credit_code != agency.credit_code:
        raise Invalid(_l("The signature is not your agency's."), code="signature_not_yours")
    return signature_b64, format(signer.certificate.serial_number, "x")


def upload(
    session: Session,
    actor: User,
    tender: Tender,
    stream: BinaryIO,
    *,
    filename: str | None,
    title: str | None,
    store: FileStore,
    signature_b64: str | None = None,
    ip: str | None = None,
) -> TenderDocument:
    """Add a file to a draft tender's documents (issued together at publication)."""
    _own_agency(session, actor, tender)
    if tender.status != "draft":
        raise Conflict(
            _l("After publication, documents change only through a clarification or amendment."),
            code="tender_not_draft",
        )
    name, heading = _filename(filename), _title(title or filename)
    stored = store.put_stream(stream, max_size=MAX_DOCUMENT_SIZE)
    if stored.size == 0:
        raise Invalid(_l("The file is empty."), code="empty_file")
    signature, serial = _agency_signature(session, actor, store, stored.sha256, signature_b64)
    document = TenderDocument(
        tender_id=tender.id,
        version=_next_version(session, tender),
        kind="documents",
        title=heading,
        filename=name,
        sha256=stored.sha256,
        size=stored.size,
        uploaded_by_id=actor.id,
        signature=signature,
        signer_serial=serial,
    )
    session.add(document)
    session.flush()
    audit.record(
        session,
        actor,
        "bidding.document_uploaded",
        tender,
        {
            "document": str(document.id),
            "version": document.version,
            "sha256": stored.sha256,
            "size": stored.size,
        },
        ip,
    )
    return document


def statement_payload(session: Session, tender: Tender, document: TenderDocument) -> dict:
    agency = get_row(session, Organization, tender.agency_id)
    if document.issued_at is None:  # a statement says when the document was issued: a draft's has none
        raise Conflict(_l("The document is not issued yet."), code="document_not_issued")
    return {
        "v": 1,
        "type": STATEMENT_TYPE,
        "tender": str(tender.id),
        "code": tender.code,
        "document": str(document.id),
        "version": document.version,
        "kind": document.kind,
        "title": document.title,
        "body_sha256": hashlib.sha256(document.body.encode()).hexdigest(),
        "filename": document.filename,
        "sha256": document.sha256,
        "size": document.size,
        "issued_at": receipts.format_time(document.issued_at),
        "issued_by": {"organization": agency.name, "credit_code": agency.credit_code},
        "agency_signer": document.signer_serial,
        "bid_deadline": receipts.format_time(tender.time_of("bid_deadline")),
    }


def _sign_statement(session: Session, tender: Tender, document: TenderDocument) -> None:
    payload = statement_payload(session, tender, document)
    key = bids.receipt_key()
    document.statement = canonical.canonical_json(
        {
            "statement": payload,
            "alg": "Ed25519",
            "key_id": receipts.public_key_id(key.public_key()),
            "signature": base64.b64encode(key.sign(canonical.canonical_json(payload))).decode(),
        }
    ).decode()


def issue_with_notice(session: Session, tender: Tender) -> list[TenderDocument]:
    """Publication issues the draft's documents (called by ``services.publish``)."""
    drafts = documents(session, tender, issued_only=False)
    for document in drafts:
        document.issued_at = tender.published_at
        _sign_statement(session, tender, document)
    return drafts


def publication_problems(session: Session, tender: Tender) -> list[dict]:
    """A notice goes out with its documents: nothing to download would defeat R-T2's five days."""
    if documents(session, tender, issued_only=False):
        return []
    return [{"field": "documents", "rule": "R-T2", "code": "missing"}]


def issue_change(
    session: Session,
    actor: User,
    tender: Tender,
    *,
    kind: str,
    title: str | None,
    body: str,
    affects_bids: bool,
    store: FileStore | None = None,
    stream: BinaryIO | None = None,
    filename: str | None = None,
    signature_b64: str | None = None,
    ip: str | None = None,
) -> TenderDocument:
    """Issue a clarification or amendment: R-T3 extension, signed statement, downloaders told."""

    _own_agency(session, actor, tender)
    if kind not in ("amendment", "clarification"):
        raise Invalid(_l("The kind is amendment or clarification."), code="invalid_kind")
    if tender.status != "published" or session.get(openings.Opening, tender.id) is not None:
        raise Conflict(_l("Only a published tender before its opening changes."), code="tender_not_open")
    now = clock.now()
    # A paused tender (R-T4) may still be amended after its old deadline: that is how it resumes.
    if deadline_passed(tender, now) and tender.paused_at is None:
        raise Conflict(_l("The bid deadline has passed."), code="deadline_passed")
    text = (body or "").strip()
    heading = _title(title)
    if not text and stream is None:
        raise Invalid(
            _l("Say what changes, or attach a file."), code="missing_fields", details={"fields": ["body"]}
        )
    document = TenderDocument(
        tender_id=tender.id,
        version=_next_version(session, tender),
        kind=kind,
        title=heading,
        body=text,
        affects_bids=bool(affects_bids),
        uploaded_by_id=actor.id,
        issued_at=now,
    )
    if stream is not None and store is not None:
        document.filename = _filename(filename)
        stored = store.put_stream(stream, max_size=MAX_DOCUMENT_SIZE)
        document.sha256, document.size = stored.sha256, stored.size
        document.signature, document.signer_serial = _agency_signature(
            session, actor, store, stored.sha256, signature_b64
        )
    moved: dict[str, tuple] = {}
    if document.affects_bids:
        calendar = Calendar.load(session)
        new_deadline = periods.extended_deadline(tender, now, calendar)
        if new_deadline is not None:  # R-T3, and the periods that hang on the deadline follow it (R-T4)
            document.deadline_before, document.deadline_after = tender.bid_deadline, new_deadline
            moved = periods.follow_deadline(tender, new_deadline, calendar)
            permissions.reveal_with_deadline(session, tender)  # bidders stay secret until the new one
    session.add(document)
    session.flush()
    _sign_statement(session, tender, document)
    audit.record(
        session,
        actor,
        f"bidding.{kind}_issued",
        tender,
        {
            "document": str(document.id),
            "version": document.version,
            "sha256": document.sha256,
            "affects_bids": document.affects_bids,
            "deadline_before": document.deadline_before.isoformat() if document.deadline_before else None,
            "deadline_after": document.deadline_after.isoformat() if document.deadline_after else None,
            "rule": "R-T3" if document.deadline_after else None,
            "moved": {name: after.isoformat() for name, (_before, after) in moved.items()},
        },
        ip,
    )
    _tell_downloaders(session, tender, document)
    return document


def _tell_downloaders(session: Session, tender: Tender, document: TenderDocument) -> None:
    """20号令22: everyone who downloaded the documents hears of every clarification or amendment."""
    user_ids = session.scalars(
        select(DocumentDownload.user_id).where(DocumentDownload.tender_id == tender.id).distinct()
    ).all()
    if document.kind == "amendment":
        subject = _l("Amendment to %(code)s: %(title)s", code=tender.code, title=document.title)
    else:
        subject = _l("Clarification of %(code)s: %(title)s", code=tender.code, title=document.title)
    body = document.body
    if document.deadline_after is not None:
        body += "\n\n" + str(
            _l(
                "The bid deadline moves to %(deadline)s (R-T3); objections to the documents are accepted "
                "until %(objections)s (R-T4).",
                deadline=when(document.deadline_after),
                objections=when(tender.objection_deadline),
            )
        )
    for user in session.scalars(select(User).where(User.id.in_(user_ids))):
        notify(session, user, str(subject), body, f"/tenders/{tender.id}")


def documents(session: Session, tender: Tender, *, issued_only: bool = True) -> list[TenderDocument]:
    query = (
        select(TenderDocument).where(TenderDocument.tender_id == tender.id).order_by(TenderDocument.version)
    )
    if issued_only:
        query = query.where(TenderDocument.issued_at.is_not(None))
    return list(session.scalars(query))


def visible_documents(session: Session, actor: User | None, tender: Tender) -> list[TenderDocument]:
    """Issued documents for everyone; drafts too for the agency and tenderee of a draft tender."""
    if tender.status == "draft" and (
        permissions.is_tenderee(actor, tender) or permissions.runs(session, actor, tender)
    ):
        return documents(session, tender, issued_only=False)
    return documents(session, tender)


def document(session: Session, actor: User | None, tender: Tender, document_id: uuid.UUID) -> TenderDocument:
    for row in visible_documents(session, actor, tender):
        if row.id == document_id:
            return row
    raise NotFound(_l("No such document."), code="document_not_found")


def download_refusal(
    session: Session, actor: User | None, tender: Tender, row: TenderDocument, now: datetime
) -> Forbidden | None:
    """R-T2: a tenderer obtains the documents while they are available (``bidding.periods``), and the
    clarifications and amendments until the bid deadline (they go to those who hold the documents); an
    organisation that obtained the documents keeps them, and every later change, afterwards. The agency
    staff running the tender and the tenderee always may; supervisors and the committee once the
    documents are out (oversight, evaluation). None when allowed."""
    if permissions.runs(session, actor, tender) or permissions.is_tenderee(actor, tender):
        return None
    if tender.status == "draft" or tender.documents_from is None or now < tender.documents_from:
        return Forbidden(
            _l("The documents can be downloaded from %(start)s.", start=when(tender.documents_from)),
            code="documents_not_yet_available",
            details={"rule": "R-T2", "available_from": _iso(tender.documents_from)},
        )
    if actor is not None and actor.role != Role.TENDERER:
        return None
    open_now = (
        periods.documents_open(tender, now)
        if row.kind == "documents"
        else now < tender.time_of("bid_deadline")
    )
    if open_now:
        return None
    org = getattr(actor, "organization_id", None)
    obtained = org is not None and session.scalar(
        select(DocumentDownload.id)
        .where(DocumentDownload.tender_id == tender.id, DocumentDownload.organization_id == org)
        .limit(1)
    )
    if obtained:
        return None
    return Forbidden(
        _l(
            "The documents were available from %(start)s to %(end)s.",
            start=when(tender.documents_from),
            end=when(tender.documents_to),
        ),
        code="documents_no_longer_available",
        details={"rule": "R-T2", "available_until": _iso(tender.documents_to)},
    )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def file_of(row: TenderDocument) -> str:
    """The stored file of a document that has one (a clarification may be text only)."""
    if row.sha256 is None:
        raise NotFound(_l("This notice has no file."), code="document_not_found")
    return row.sha256


def record_download(
    session: Session, actor: User, tender: Tender, row: TenderDocument, ip: str | None = None
) -> DocumentDownload:
    """Downloading needs no registration beyond signing in (R-T2); who downloaded is recorded. A
    tenderer obtains the documents while they are available (``bidding.periods``); one whose
    organisation obtained them keeps them, and every later change, afterwards."""
    file_of(row)
    if actor is None or not getattr(actor, "is_authenticated", False):
        raise Forbidden(_l("Sign in to download the documents."), code="unauthenticated", status=401)
    refusal = download_refusal(session, actor, tender, row, clock.now())
    if refusal is not None:
        raise refusal
    download = DocumentDownload(
        document_id=row.id, tender_id=tender.id, user_id=actor.id, organization_id=actor.organization_id
    )
    session.add(download)
    session.flush()
    audit.record(
        session,
        actor,
        "bidding.document_downloaded",
        tender,
        {"document": str(row.id), "version": row.version},
        ip,
        # Who downloads is secret until the deadline (R-T2, R-B4); a committee member, until the result.
        sealed=permissions.committee_scope(tender.id)
        if actor.role == Role.EXPERT
        else permissions.bid_scope(tender.id),
    )
    return download


def downloads(session: Session, actor: User | None, tender: Tender) -> list[dict]:
    """Who downloaded what and when: agency and tenderee only before the deadline (R-T2)."""
    if actor is None or not permissions.may_see_downloads(session, actor, tender):
        raise Forbidden(_l("Only the agency and the tenderee see who downloaded."), code="role_forbidden")
    query = (
        select(DocumentDownload, TenderDocument.version, Organization.name, User.display_name)
        .join(TenderDocument, TenderDocument.id == DocumentDownload.document_id)
        .join(User, User.id == DocumentDownload.user_id)
        .outerjoin(Organization, Organization.id == DocumentDownload.organization_id)
        .where(DocumentDownload.tender_id == tender.id)
        .order_by(DocumentDownload.downloaded_at, DocumentDownload.id)
    )
    if actor.role != Role.SUPERVISOR and not permissions.committee_disclosed(session, tender):
        # A committee member reading the documents would name them (R-E4).
        query = query.where(User.role != Role.EXPERT)
    rows = session.execute(query).all()
    return [
        {
            "document": str(d.document_id),
            "version": version,
            "organization": org_name,
            "user": user_name,
            "downloaded_at": d.downloaded_at.isoformat(),
        }
        for d, version, org_name, user_name in rows
    ]
