"""The evaluation report (评标报告): the chair puts the results to the committee once they are complete and
unblocked; every sitting member signs after a fresh second-factor code, agreeing or dissenting with
reasons (a refusal without written reasons counts as agreement); once all have, the report is signed
and only then do the agency and the tenderee see the result (R-V6). At most 3 ranked candidates.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Sequence
from pathlib import Path

from flask import current_app
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

import audit
from accounts import pki
from accounts import services as accounts
from accounts.models import Certificate, Organization, User
from bidding import permissions
from bidding.models import Tender
from core import clock, pdfsign
from core.db import get_row
from core.errors import Conflict, Forbidden, Invalid, NotFound
from core.labels import label
from core.storage import file_store
from crypto import ca, canonical, cms
from evaluation import committee, report_pdf, room, scoring
from evaluation.models import (
    Decision,
    EvaluationReport,
    EvaluationRoom,
    MemberKind,
    ReportSignature,
    ReportStatus,
    RoomMember,
    RoomStatus,
)
from experts import draws
from experts.models import Draw

DECISIONS = tuple(Decision)


def _store():
    return file_store()


def draft(session: Session, actor: User, tender: Tender, ip: str | None = None) -> EvaluationReport:
    """The chair puts the complete, unblocked results to the committee as the report."""
    room.member(session, actor, tender)
    evaluation = get_row(session, EvaluationRoom, tender.id)
    if evaluation.chair_id != actor.id:
        raise Forbidden(_l("The chair drafts the report."), code="chair_only")
    if session.get(EvaluationReport, tender.id) is not None:
        raise Conflict(_l("The report is already drafted."), code="report_exists")
    committee.require_quorum(session, tender)  # R-E1 with R-E5
    result, sheets, void = scoring.aggregate_room(session, tender)
    if result.blocked:  # R-V4: a summation error, out-of-range or inconsistent score needs a review first
        raise Conflict(
            _l("Some scores need a review first: see the flags."),
            code="review_needed",
            details={"flags": [f["code"] for f in scoring.results_json(result, sheets, void)["flags"]]},
        )
    _by_code, codes = scoring.blind_addresses(session, tender)
    blind = scoring.blind_keys(result.scheme)
    content = scoring.results_json(result, sheets, void, codes)
    content["reviews"] = [scoring.mask(r, codes, blind) for r in scoring.reviews(session, tender)]
    content["tender"] = {"id": str(tender.id), "code": tender.code, "title": tender.title}
    content["members"] = [
        {"name": get_row(session, User, m.user_id).display_name, "kind": m.kind}
        for m in room.sitting_members(session, tender)
    ]
    body = canonical.canonical_json(content)
    pdf = _render(session, tender, result, content["reviews"])
    stored = _store().put_bytes(pdf)
    report = EvaluationReport(
        tender_id=tender.id,
        content=content,
        content_sha256=hashlib.sha256(body).hexdigest(),
        pdf_sha256=stored.sha256,
        draft_pdf_sha256=stored.sha256,
        drafted_by_id=actor.id,
    )
    session.add(report)
    session.flush()
    audit.record(
        session,
        actor,
        "evaluation.report_drafted",
        tender,
        {
            "content_sha256": report.content_sha256,
            "pdf_sha256": report.pdf_sha256,
            "candidates": content["candidates"],
        },
        ip,
        sealed=permissions.committee_scope(tender.id),
    )
    return report


def _member_role(m: RoomMember, chair_id) -> str:
    """As printed in the official (Chinese) report."""
    if m.user_id == chair_id:
        return "组长"
    return "招标人代表" if m.kind == MemberKind.TENDEREE_REP else "评标专家"


def _render(
    session: Session,
    tender: Tender,
    result,
    reviews: list[dict],
    signatures: Sequence[ReportSignature] = (),
) -> bytes:
    """The report as a PDF: while signing, with blank signature lines; once closed, with every
    member's decision, reasons, time and method, and the dissent (R-V6)."""
    evaluation = get_row(session, EvaluationRoom, tender.id)
    members = [
        report_pdf.Member(
            get_row(session, User, m.user_id).display_name, _member_role(m, evaluation.chair_id)
        )
        for m in room.sitting_members(session, tender)
    ]
    with force_locale("zh_CN"):  # the official report is in Chinese whoever triggers it
        lines, dissent = [], []
        for sig in signatures:
            seat = get_row(session, RoomMember, sig.member_id)
            name = get_row(session, User, seat.user_id).display_name
            lines.append(
                report_pdf.SignatureLine(
                    member=name,
                    role=_member_role(seat, evaluation.chair_id),
                    decision=label("report_signatures.decision", sig.decision),
                    reasons=sig.reasons,
                    signed_at=clock.local(sig.signed_at).strftime("%Y-%m-%d %H:%M"),
                    method=str(
                        _l("code + certificate %(serial)s", serial=sig.signer_serial)
                        if sig.signer_serial
                        else _l("second-factor code")
                    ),
                )
            )
            if sig.counted_as == Decision.DISSENT:
                dissent.append(report_pdf.Dissent(name, sig.reasons))
        data = report_pdf.report_from(
            result,
            tender_code=tender.code or "",
            tender_title=tender.title,
            agency=get_row(session, Organization, tender.agency_id).name,
            tenderee=get_row(session, Organization, tender.tenderee_id).name,
            evaluated_on=clock.local(clock.now()).date(),
            members=members,
            reviews=reviews,
            dissent=dissent,
            signatures=lines,
        )
        return report_pdf.render_report(data, current_app.config.get("REPORT_FONT"))


def sign(
    session: Session,
    actor: User,
    tender: Tender,
    *,
    code: str,
    decision: str,
    reasons: str = "",
    cms_signature: str | None = None,
    ip: str | None = None,
) -> ReportSignature:
    """Sign the report after a fresh code: agree, dissent (with reasons) or refuse (R-V6)."""
    seat = room.member(session, actor, tender)
    report = _report(session, tender)
    if report.status != ReportStatus.SIGNING:
        raise Conflict(_l("The report is closed."), code="report_signed")
    if session.get(ReportSignature, (tender.id, seat.id)) is not None:
        raise Conflict(_l("You have already signed."), code="already_signed")
    committee.require_quorum(session, tender)  # R-E1: nobody signs for a committee short of members
    if decision not in DECISIONS:
        raise Invalid(_l("Agree, dissent or refuse."), code="invalid_decision")
    text = (reasons or "").strip()
    if decision == Decision.DISSENT and not text:
        raise Invalid(
            _l("A dissent states its reasons."), code="reasons_required", details={"field": "reasons"}
        )
    accounts.check_totp(session, actor, str(code or ""), ip, purpose="report_signature")
    serial = None
    if cms_signature:
        serial = _check_cms(session, actor, report, cms_signature)
    # R-V6: a refusal with written reasons stands as dissent; without, it counts as agreement.
    counted = (
        Decision.DISSENT
        if decision == Decision.DISSENT or (decision == Decision.REFUSED and text)
        else Decision.AGREE
    )
    signature = ReportSignature(
        tender_id=tender.id,
        member_id=seat.id,
        decision=decision,
        reasons=text[:4000],
        counted_as=counted,
        ip=ip,
        cms_signature=cms_signature,
        signer_serial=serial,
    )
    session.add(signature)
    session.flush()
    audit.record(
        session,
        actor,
        "evaluation.report_signed",
        tender,
        {"decision": decision, "counted_as": counted, "content_sha256": report.content_sha256, "cms": serial},
        ip,
        sealed=permissions.committee_scope(tender.id),
    )
    return signature


def _check_cms(session: Session, actor: User, report: EvaluationReport, signature_b64: str) -> str:
    try:
        der = base64.b64decode(signature_b64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Invalid(_l("The signature is base64 (DER)."), code="invalid_signature") from exc
    authority = pki.get_ca(session)
    try:
        signer = cms.verify_detached(
            der,
            canonical.canonical_json(report.content),
            chain=pki.chain(authority),
            crl=pki.current_crl(session),
            at=clock.now(),
        )
    except (cms.SignatureError, ca.CertificateError) as exc:
        raise Invalid(
            _l("The signature does not verify: %(reason)s", reason=str(exc)), code="signature_invalid"
        ) from exc
    serial = format(signer.certificate.serial_number, "x")

    row = session.scalar(select(Certificate).where(Certificate.serial == serial))
    if row is None or row.user_id != actor.id:
        raise Invalid(_l("The signature is not yours."), code="signature_not_yours")
    return serial


def close(session: Session, actor: User, tender: Tender, ip: str | None = None) -> EvaluationReport:
    """The chair closes the report once every sitting member has signed; the room closes with it."""
    room.member(session, actor, tender)
    evaluation = get_row(session, EvaluationRoom, tender.id)
    if evaluation.chair_id != actor.id:
        raise Forbidden(_l("The chair closes the report."), code="chair_only")
    report = _report(session, tender)
    if report.status != "signing":
        raise Conflict(_l("The report is closed."), code="report_signed")
    signed = {
        s.member_id
        for s in session.scalars(select(ReportSignature).where(ReportSignature.tender_id == tender.id))
    }
    committee.require_quorum(session, tender)  # R-E1: a committee of 4 never closes a report
    waiting = [m for m in room.sitting_members(session, tender) if m.id not in signed]
    if waiting:
        raise Conflict(
            _l("Every member signs first."), code="signatures_pending", details={"waiting": len(waiting)}
        )
    report.status, report.signed_at = ReportStatus.SIGNED, clock.now()
    evaluation.status = RoomStatus.CLOSED
    report.pdf_sha256 = _store().put_bytes(signed_pdf(session, tender, report)).sha256
    session.flush()
    _disclose_draws(session, actor, tender, ip)
    audit.record(  # both hashes: the archive (R-R2) attests the signed PDF by this entry
        session,
        actor,
        "evaluation.report_closed",
        tender,
        {"content_sha256": report.content_sha256, "pdf_sha256": report.pdf_sha256},
        ip,
    )
    return report


def signed_pdf(session: Session, tender: Tender, report: EvaluationReport) -> bytes:
    """The closed report (R-R2): rendered with every signature, the content the members signed and
    their own CMS signatures attached, and the platform's PAdES signature over the whole file."""
    result, _sheets, _void = scoring.aggregate_room(session, tender)
    signatures = _signatures(session, tender)
    pdf = _render(session, tender, result, report.content.get("reviews", []), signatures)
    attachments = [
        pdfsign.Attachment(
            "report-content.json",
            canonical.canonical_json(report.content),
            "application/json",
            "The results as the members signed them (canonical JSON)",
        )
    ]
    for sig in signatures:
        if sig.cms_signature:
            attachments.append(
                pdfsign.Attachment(
                    f"member-{sig.signer_serial}.p7s",
                    base64.b64decode(sig.cms_signature),
                    "application/pkcs7-signature",
                    "A member's CMS signature over report-content.json",
                )
            )
    return pdfsign.sign(
        pdf,
        pki.document_signer(session),
        field_name="SunBid",
        reason=f"{tender.code} 评标报告 / evaluation report",
        location="SunBid",
        attachments=attachments,
    )


def _signatures(session: Session, tender: Tender) -> list[ReportSignature]:
    return list(
        session.scalars(
            select(ReportSignature)
            .where(ReportSignature.tender_id == tender.id)
            .order_by(ReportSignature.signed_at, ReportSignature.member_id)
        )
    )


def document(session: Session, tender: Tender) -> bytes:
    """The report's PDF as kept in the file store: signed once closed (for archives and proofs)."""
    return _store().path_for(_report(session, tender).pdf_sha256).read_bytes()


def _report(session: Session, tender: Tender) -> EvaluationReport:
    report = session.get(EvaluationReport, tender.id)
    if report is None:
        raise NotFound(_l("The report is not drafted yet."), code="report_not_found")
    return report


def readable(session: Session, actor: User, tender: Tender) -> EvaluationReport:
    """Committee and supervisors always; the agency and the tenderee only once it is signed."""
    report = _report(session, tender)
    if permissions.oversees(session, actor, tender):
        return report
    if permissions.runs(session, actor, tender) or permissions.is_tenderee(actor, tender):
        seat = session.scalar(
            select(RoomMember).where(RoomMember.tender_id == tender.id, RoomMember.user_id == actor.id)
        )
        if seat is None:
            if report.status != "signed":
                raise Forbidden(
                    _l("The result is shown once the report is signed."), code="report_not_signed"
                )
            return report
    room.member(session, actor, tender, sitting=False)
    return report


def pdf_file(session: Session, actor: User, tender: Tender) -> tuple[Path, str]:
    """The report's PDF as signed, for whoever may read the report (``readable``): where it is stored and
    the file name to download it as. The API (bearer token) and the pages (session) both serve it."""
    row = readable(session, actor, tender)
    return file_store().path_for(row.pdf_sha256), f"{tender.code}-评标报告.pdf"


def _member_name(session: Session, member_id: uuid.UUID) -> str:
    return get_row(session, User, get_row(session, RoomMember, member_id).user_id).display_name


def report_json(session: Session, report: EvaluationReport) -> dict:
    signatures = session.scalars(
        select(ReportSignature).where(ReportSignature.tender_id == report.tender_id)
    ).all()
    return {
        "status": report.status,
        "content": report.content,
        "content_sha256": report.content_sha256,
        "pdf_sha256": report.pdf_sha256,
        "drafted_at": report.drafted_at.isoformat(),
        "signed_at": report.signed_at.isoformat() if report.signed_at else None,
        "signatures": [
            {
                "member": get_row(
                    session, User, get_row(session, RoomMember, s.member_id).user_id
                ).display_name,
                "decision": s.decision,
                "counted_as": s.counted_as,
                "reasons": s.reasons,
                "signed_at": s.signed_at.isoformat(),
                "cms": s.signer_serial,
            }
            for s in signatures
        ],
    }


def _disclose_draws(session: Session, actor: User, tender: Tender, ip: str | None) -> None:
    """The result is determined: the committee's names and the draws' proofs become public (R-E4)."""

    for draw in session.scalars(select(Draw).where(Draw.tender_id == tender.id, Draw.status == "drawn")):
        draws.disclose(session, actor, draw, ip)
