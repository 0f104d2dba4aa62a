"""Tender API (API.md): drafts and publication for agencies, notices for everyone."""

from __future__ import annotations

import base64
import contextlib
import uuid

from flask import Blueprint, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, or_, select

from accounts.models import User
from bidding import (
    bank,
    bids,
    collusion,
    custodians,
    hall,
    ledger,
    ledger_view,
    opening,
    permissions,
    services,
    uploads,
    workbench_views,
)
from bidding.models import Bid, BidPart, Deposit, Opening, Tender
from bidding.permissions import Scope, may_see_opening_record, sealed_scope
from bidding.schemas import (
    AttendanceOut,
    BasicAccountBody,
    BidOut,
    DecryptBody,
    DepositBody,
    DepositOut,
    OpenBidBody,
    OpenWithKeyBody,
    PublishBody,
    ShareBody,
    TeamBody,
    TenderBody,
    TenderListQuery,
    TenderOut,
    TenderPatch,
    UploadOut,
    VerdictBody,
)
from bidding.serializers import money, tender_json
from core import clock
from core.api import paginate
from core.auth import roles_required
from core.bodies import allow_upload_up_to
from core.db import db, get_row, streams_first
from core.errors import DomainError, Invalid, NotFound
from core.extensions import arrived_at, client_ip
from core.money import parse_money
from core.openapi import Raw, Upload, api_doc
from core.roles import CUSTODIAN_ROLES, Role
from core.schemas import ItemsOut, Out, PageOut
from core.storage import file_store

bp = Blueprint("bidding_api", __name__, url_prefix="/api/v1")


def _user_by(ref: str | None, field: str, *roles: Role) -> User | None:
    if not ref:
        return None
    condition = func.lower(User.username) == ref.lower()
    with contextlib.suppress(ValueError):  # a user id works as well as a user name
        condition = or_(condition, User.id == uuid.UUID(ref))
    user = db.session.scalar(select(User).where(condition, User.role.in_([str(r) for r in roles])))
    if user is None:
        raise Invalid(
            _l("No such custodian: %(user)s.", user=ref),
            code="invalid_custodian",
            details={"field": field, "user": ref},
        )
    return user


@bp.post("/tenders")
@roles_required(Role.AGENCY)
@api_doc(body=TenderBody, responses={201: TenderOut})
def create_tender(body: TenderBody):
    """Create a draft tender (agency)."""
    tender = services.create_draft(db.session, current_user, services.parse_tender(body.data()), client_ip())
    db.session.commit()
    return jsonify(tender_json(tender, clock.now(), manager=True)), 201


@bp.patch("/tenders/<uuid:tender_id>")
@roles_required(Role.AGENCY)
@api_doc(body=TenderPatch, responses={200: TenderOut})
def update_tender(tender_id: uuid.UUID, body: TenderPatch):
    """Change a draft tender's fields (agency, drafts only): the fields sent replace the current ones
    (`timeline` field by field, `lots` as a whole list); GET returns a body this accepts as it is."""
    tender = services.manageable(db.session, current_user, tender_id)
    changes = {k: v for k, v in body.data().items() if v is not None and k not in TenderPatch.READ_ONLY}
    for lot in changes.get("lots") or []:
        lot.pop("number", None)
    merged = tender_json(tender, clock.now(), manager=True)
    timeline = {**merged.get("timeline", {}), **(changes.pop("timeline", None) or {})}
    merged.update(changes)
    merged["timeline"] = timeline
    services.update_draft(db.session, current_user, tender, services.parse_tender(merged), client_ip())
    db.session.commit()
    return jsonify(tender_json(tender, clock.now(), manager=True))


@bp.delete("/tenders/<uuid:tender_id>")
@roles_required(Role.AGENCY)
@api_doc(responses={204: "deleted"})
def delete_tender(tender_id: uuid.UUID):
    """Delete a draft tender with its lots and documents (agency, drafts only)."""
    tender = services.manageable(db.session, current_user, tender_id)
    services.delete_draft(db.session, current_user, tender, client_ip())
    db.session.commit()
    return "", 204


@bp.post("/tenders/<uuid:tender_id>/publish")
@roles_required(Role.AGENCY)
@api_doc(body=PublishBody, responses={200: TenderOut})
def publish_tender(tender_id: uuid.UUID, body: PublishBody):
    """Publish: checks the timeline (R-T1, R-T2, R-T3, R-T4, R-T6) and splits the opening key 2-of-3
    among the agency, a supervisor and a notary (or a supervisor of another authority)."""
    tender = services.manageable(db.session, current_user, tender_id)
    services.publish(
        db.session,
        current_user,
        tender,
        supervisor=_user_by(body.supervisor, "supervisor", Role.SUPERVISOR),
        notary=_user_by(body.notary, "notary", Role.NOTARY, Role.SUPERVISOR),
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify({**tender_json(tender, clock.now(), manager=True), "warnings": _warnings(tender)})


def _warnings(tender) -> list[dict]:
    """What publication went ahead despite: years the holiday calendar does not cover (R-T6)."""
    from bidding.calendar import Calendar

    return [
        {**w, "message": str(w["message"])}
        for w in services.calendar_warnings(tender, Calendar.load(db.session))
    ]


@bp.get("/tenders")
@api_doc(public=True, query=TenderListQuery, responses={200: PageOut})
def list_tenders(query: TenderListQuery):
    """Published notices, newest first; `q` searches title, code and text (Chinese works); filters by
    `category`, `track` and `region`; each with its phase (bidding.lifecycle)."""
    from bidding import portal

    filters = portal.Filters(
        q=query.q or "", category=query.category or "", track=query.track or "", region=query.region or ""
    )
    rows = filters.apply(portal.notices_query(), Tender.published_at)
    now = clock.now()
    return jsonify(paginate(db.session, rows, lambda t: tender_json(t, now), page=query))


@bp.get("/tenders/<uuid:tender_id>")
@api_doc(public=True, responses={200: TenderOut})
def get_tender(tender_id: uuid.UUID):
    """One notice; drafts only for their agency and tenderee."""
    actor = current_user if current_user.is_authenticated else None
    tender = services.visible(db.session, actor, tender_id)
    manager = permissions.runs(db.session, actor, tender) or permissions.is_tenderee(actor, tender)
    return jsonify(tender_json(tender, clock.now(), manager=manager))


@bp.get("/tenders/<uuid:tender_id>/opening-key")
@api_doc(public=True, responses={200: Out})
def opening_key(tender_id: uuid.UUID):
    """The age recipient to seal bids to, with the custodians' share hashes."""
    tender = services.visible(db.session, None, tender_id)
    if tender.opening_key is None:
        raise NotFound(_l("This tender has no opening key yet."), code="opening_key_not_found")
    return jsonify(
        {
            "recipient": tender.opening_key.recipient,
            "threshold": tender.opening_key.threshold,
            "custodians": [
                {"role": s.role, "x": s.x, "share_sha256": s.share_sha256} for s in tender.opening_key.shares
            ],
        }
    )


# -- deposits -----------------------------------------------------------------------------------------


def deposit_json(deposit) -> dict:
    return {
        "id": str(deposit.id),
        "lot": deposit.lot_number,
        "kind": deposit.kind,
        "status": deposit.status,
        "organization": str(deposit.organization_id),
        "amount": money(deposit.amount_fen, deposit.currency),
        "paid_at": deposit.paid_at.isoformat(),
        "payer_account": deposit.payer_account,
        "insurer": deposit.insurer,
        "policy_number": deposit.policy_number,
        "verification_ref": deposit.verification_ref,
        "refund_due_at": deposit.refund_due_at.isoformat() if deposit.refund_due_at else None,
        "refunded_at": deposit.refunded_at.isoformat() if deposit.refunded_at else None,
        "interest": money(deposit.interest_fen),
        "late_charge": money(deposit.late_charge_fen),
    }


@bp.post("/tenders/<uuid:tender_id>/deposits")
@roles_required(Role.TENDERER)
@api_doc(body=DepositBody, responses={201: DepositOut, 202: Out})
def pay_deposit(tender_id: uuid.UUID, body: DepositBody):
    """Pay a deposit: ``money`` answers where to pay and with which reference (202; it is held when the
    bank's statement shows it paid from the basic account, R-D1); ``guarantee`` files an e-guarantee with
    the insurer's verification reference (201)."""

    tender = services.visible(db.session, None, tender_id)
    if body.kind == "money":
        # Money is held only when the bank's statement shows it (bidding/bank.py).
        bank.issue_reference(db.session, current_user, tender, body.lot, client_ip())
        db.session.commit()
        status = bank.payment_status(db.session, current_user.organization_id, tender)
        return jsonify(payment_json(status, body.lot)), 202
    if body.amount is None or body.valid_until is None:
        raise Invalid(
            _l("Give the guarantee's amount and validity."),
            code="missing_fields",
            details={"fields": [f for f in ("amount", "valid_until") if getattr(body, f) is None]},
        )
    deposit = ledger.record_guarantee(
        db.session,
        current_user,
        tender,
        lot_number=body.lot,
        amount_fen=parse_money(body.amount.model_dump(), "amount"),
        insurer=body.insurer,
        policy_number=body.policy_number,
        verification_ref=body.verification_ref,
        valid_until=body.valid_until,
        file_sha256=(body.file_sha256 or "").lower(),
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify(deposit_json(deposit)), 201


def payment_json(lots: list, only: int | None = None) -> dict | list:
    """Where and how to pay each lot's deposit, and what the bank has shown so far."""
    account = bank.deposit_account()
    items = [
        {
            "lot": p.lot_number,
            "status": p.state,
            "amount": money(p.required_fen),
            "reference": p.reference.reference if p.reference else None,
            "account": {
                "bank": account.bank,
                "name": account.name,
                "number": account.number,
                "sub_account": p.reference.sub_account,
            }
            if p.reference and account
            else None,
            "deposit": deposit_json(p.deposit) if p.deposit is not None else None,
            "received": [
                {
                    "amount": money(tx.amount_fen),
                    "booked_at": tx.booked_at.isoformat(),
                    "outcome": tx.outcome,
                    "detail": tx.detail,
                }
                for tx in p.received
            ],
        }
        for p in lots
    ]
    if only is not None:
        return next(item for item in items if item["lot"] == only)
    return items


@bp.get("/tenders/<uuid:tender_id>/deposits/payment")
@roles_required(Role.TENDERER)
@api_doc(responses={200: ItemsOut})
def deposit_payment(tender_id: uuid.UUID):
    """Your deposit for each lot: the amount, the account and sub-account, your payment reference, and what
    the bank has shown (held, or a payment that could not be held and is returned)."""
    tender = services.visible(db.session, None, tender_id)
    return jsonify(
        {"items": payment_json(bank.payment_status(db.session, current_user.organization_id, tender))}
    )


@bp.get("/tenders/<uuid:tender_id>/deposits")
@roles_required(Role.TENDERER, Role.AGENCY, Role.SUPERVISOR)
@api_doc(responses={200: ItemsOut})
def list_deposits(tender_id: uuid.UUID):
    """The tender's deposits: a tenderer sees its own; the agency and supervisors see all, but only
    after the bid deadline (before it, who paid would reveal who bids)."""

    tender = services.visible(db.session, None, tender_id)
    scope = sealed_scope(db.session, current_user, tender)
    if scope is Scope.SEALED:
        return jsonify({"items": [], "hidden_until": tender.time_of("bid_deadline").isoformat()})
    query = select(Deposit).where(Deposit.tender_id == tender.id).order_by(Deposit.created_at)
    if scope is Scope.OWN:
        query = query.where(Deposit.organization_id == current_user.organization_id)
    return jsonify({"items": [deposit_json(d) for d in db.session.scalars(query)]})


@bp.put("/organizations/mine/basic-account")
@roles_required(Role.TENDERER)
@api_doc(body=BasicAccountBody, responses={200: Out})
def set_basic_account(body: BasicAccountBody):
    """Register your organisation's basic account (基本账户), where deposits must come from (R-D1)."""
    org = bank.set_basic_account(db.session, current_user, body.bank, body.account_no, client_ip())
    db.session.commit()
    return jsonify({"bank": org.basic_account_bank, "account_no": org.basic_account_no})


@bp.get("/deposits/statement")
@roles_required(Role.TENDERER)
@api_doc(responses={200: ItemsOut})
def deposit_statement():
    """Your organisation's deposits, refunds and interest for the days held (R-D3).

    While a deposit is held, `interest_fen` is what it has earned to date; once refunded, what was paid.
    """

    rows = ledger_view.statement(db.session, current_user.organization_id, clock.now())
    return jsonify({"items": [statement_json(row) for row in rows]})


def statement_json(row) -> dict:
    d = row.deposit
    return {
        "id": str(d.id),
        "tender": str(d.tender_id),
        "tender_code": row.tender.code,
        "lot": d.lot_number,
        "kind": d.kind,
        "status": d.status,
        "amount_fen": d.amount_fen,
        "paid_at": d.paid_at.isoformat(),
        "days_held": row.days_held,
        "interest_fen": row.interest_fen,
        "late_charge_fen": row.late_charge_fen,
        "settled": row.settled,
        "refund_reason": d.refund_reason,
        "refund_due_at": d.refund_due_at.isoformat() if d.refund_due_at else None,
        "refunded_at": d.refunded_at.isoformat() if d.refunded_at else None,
        "returned_fen": row.returned_fen,
    }


@bp.get("/tenders/<uuid:tender_id>/ledger")
@roles_required(Role.AGENCY, Role.SUPERVISOR)
@api_doc(responses={200: "the tender's ledger entries and trial balance"})
def tender_ledger(tender_id: uuid.UUID):
    """The tender's deposit ledger: entries and trial balance (its agency, supervisors; R-D3).

    Before the bid deadline it is sealed (who paid a deposit would tell who bids, R-B4): no entries,
    and `hidden_until` says when.
    """

    tender, sealed = ledger_view.ledger_tender(db.session, current_user, tender_id)
    if sealed:
        return jsonify(
            {"entries": [], "trial_balance": None, "hidden_until": tender.time_of("bid_deadline").isoformat()}
        )
    entries, balance = ledger_view.tender_ledger(db.session, tender)
    return jsonify(
        {
            "entries": [
                {
                    "id": str(e.id),
                    "kind": e.kind,
                    "booked_at": e.booked_at.isoformat(),
                    "lines": [
                        {"account": line.account, "amount": money(line.amount_fen)} for line in e.lines
                    ],
                }
                for e in entries
            ],
            "trial_balance": {
                "accounts": [
                    {
                        "account": row.account,
                        "debit": money(row.debit_fen),
                        "credit": money(row.credit_fen),
                        "balance": money(row.balance_fen),
                    }
                    for row in balance.rows
                ],
                "debits": money(balance.debit_fen),
                "credits": money(balance.credit_fen),
                "balanced": balance.balanced,
            },
        }
    )


# -- bids ---------------------------------------------------------------------------------------------


def bid_json(bid) -> dict:
    return {
        "id": str(bid.id),
        "tender": str(bid.tender_id),
        "lot": bid.lot_number,
        "status": bid.status,
        "submitted_at": bid.submitted_at.isoformat() if bid.submitted_at else None,
        "parts": [
            {"part": p.part, "sha256": p.sha256, "size": p.size, "received_at": p.received_at.isoformat()}
            for p in bid.parts
        ],
        "audit_index": bid.audit_index,
    }


@bp.get("/receipt-key")
@api_doc(public=True, responses={200: Raw("application/x-pem-file", "the receipt key, PEM")})
def receipt_public_key():
    """The platform's receipt key (Ed25519, PEM): verify bid receipts offline with it."""

    return bids.receipt_public_pem(), 200, {"Content-Type": "application/x-pem-file"}


@bp.post("/tenders/<uuid:tender_id>/bids")
@roles_required(Role.TENDERER)
@api_doc(body=OpenBidBody, responses={201: BidOut})
def open_bid(tender_id: uuid.UUID, body: OpenBidBody):
    """Start a bid for a lot; upload its parts, then submit it (before the deadline)."""

    bid = bids.open_bid(
        db.session, current_user, services.visible(db.session, None, tender_id), body.lot, client_ip()
    )
    db.session.commit()
    return jsonify(bid_json(bid)), 201


@bp.put("/tenders/<uuid:tender_id>/bids/<uuid:bid_id>/parts/<part>")
@streams_first
@roles_required(Role.TENDERER)
@api_doc(upload=Upload(field=None), responses={201: Out})
def upload_part(tender_id: uuid.UUID, bid_id: uuid.UUID, part: str):
    """Upload one sealed part as the raw request body (streamed), with OUT.sig base64 in X-Bid-Signature."""

    allow_upload_up_to(bids.MAX_PART_SIZE)
    try:
        tender, bid = bids.own_bid(db.session, current_user, tender_id, bid_id)
        row = bids.receive_part(
            db.session,
            current_user,
            tender,
            bid,
            part,
            request.stream,
            request.headers.get("X-Bid-Signature"),
            file_store(),
            client_ip(),
        )
    except DomainError:
        # Before core.bodies reads the rest of the refused body: no lock or connection held meanwhile.
        db.session.rollback()
        raise
    db.session.commit()
    return jsonify({"part": row.part, "sha256": row.sha256, "size": row.size}), 201


@bp.post("/tenders/<uuid:tender_id>/bids/<uuid:bid_id>/parts/<part>/uploads")
@roles_required(Role.TENDERER)
@api_doc(responses={200: UploadOut, 201: UploadOut})
def begin_upload(tender_id: uuid.UUID, bid_id: uuid.UUID, part: str):
    """Start (or resume) a chunked upload of one sealed part: OUT.sig base64 in X-Bid-Signature, no body.
    The answer's ``offset`` is where the platform's copy stops: send the chunks from there."""

    tender, bid = bids.own_bid(db.session, current_user, tender_id, bid_id)
    answer = uploads.begin(
        db.session,
        current_user,
        tender,
        bid,
        part,
        request.headers.get("X-Bid-Signature"),
        file_store(),
        client_ip(),
    )
    db.session.commit()
    return jsonify(answer), 201 if answer["offset"] == 0 else 200


@bp.patch("/tenders/<uuid:tender_id>/bids/<uuid:bid_id>/uploads/<uuid:upload_id>")
@streams_first
@roles_required(Role.TENDERER)
@api_doc(upload=Upload(field=None), responses={200: UploadOut, 201: UploadOut})
def upload_chunk(tender_id: uuid.UUID, bid_id: uuid.UUID, upload_id: uuid.UUID):
    """One chunk of a resumable upload, as the raw body: ``Upload-Offset`` (where it starts, which must
    be where the platform's copy stops) and ``X-Chunk-SHA256`` (its digest) headers. The chunk that
    reaches the signed size completes the part (201), judged by when its last byte arrived (R-B3)."""

    return workbench_views.chunk_answer(tender_id, bid_id, upload_id)


@bp.post("/tenders/<uuid:tender_id>/bids/<uuid:bid_id>/submit")
@roles_required(Role.TENDERER)
@api_doc(responses={201: Raw("application/json", "the signed receipt (R-B2)", {"type": "object"})})
def submit_bid(tender_id: uuid.UUID, bid_id: uuid.UUID):
    """Submit a bid whose parts are all uploaded: answers with the platform's signed receipt."""

    tender, bid = bids.own_bid(db.session, current_user, tender_id, bid_id)
    bids.submit(db.session, current_user, tender, bid, client_ip(), arrived_at=arrived_at())
    db.session.commit()
    # With the log proof of the submission in a witnessed checkpoint, once it is committed.
    return bids.receipt_with_proof(db.session, bid), 201, {"Content-Type": "application/json"}


@bp.get("/tenders/<uuid:tender_id>/bids/<uuid:bid_id>/receipt")
@roles_required(Role.TENDERER)
@api_doc(
    responses={200: Raw("application/json", "the signed receipt with its log proof", {"type": "object"})}
)
def get_receipt(tender_id: uuid.UUID, bid_id: uuid.UUID):
    """Your bid's signed receipt (R-B2), with the log proof of the submission in the latest witnessed
    checkpoint that includes it: fetch it again when it was sent without one."""
    from bidding import bids

    _tender, bid = bids.own_bid(db.session, current_user, tender_id, bid_id)
    return bids.receipt_with_proof(db.session, bid), 200, {"Content-Type": "application/json"}


@bp.delete("/tenders/<uuid:tender_id>/bids/<uuid:bid_id>")
@roles_required(Role.TENDERER)
@api_doc(responses={200: BidOut})
def withdraw_bid(tender_id: uuid.UUID, bid_id: uuid.UUID):
    """Withdraw a bid before the deadline (R-B4); its deposit is refunded within 5 days (R-D2)."""

    tender, bid = bids.own_bid(db.session, current_user, tender_id, bid_id)
    bids.withdraw(db.session, current_user, tender, bid, client_ip())
    db.session.commit()
    return jsonify(bid_json(bid))


@bp.get("/tenders/<uuid:tender_id>/bids")
@roles_required(Role.TENDERER, Role.AGENCY, Role.SUPERVISOR)
@api_doc(responses={200: ItemsOut})
def list_bids(tender_id: uuid.UUID):
    """Your own bids; for the agency and supervisors nothing before the deadline, not even a count."""

    tender = services.visible(db.session, None, tender_id)
    scope = sealed_scope(db.session, current_user, tender)
    if scope is Scope.SEALED:
        return jsonify({"items": [], "hidden_until": tender.time_of("bid_deadline").isoformat()})
    query = select(Bid).where(Bid.tender_id == tender.id).order_by(Bid.created_at)
    if scope is Scope.OWN:
        query = query.where(Bid.organization_id == current_user.organization_id)
    else:
        query = query.where(Bid.status == "submitted")
    return jsonify({"items": [bid_json(b) for b in db.session.scalars(query)]})


# -- opening ------------------------------------------------------------------------------------------


@bp.post("/tenders/<uuid:tender_id>/opening")
@roles_required(Role.AGENCY)
@api_doc(responses={200: Out})
def start_opening(tender_id: uuid.UUID):
    """Start the opening at/after the deadline (R-T5); fewer than 3 bids fail the tender (R-B5)."""

    tender = services.manageable(db.session, current_user, tender_id)
    row = opening.start(db.session, current_user, tender, client_ip())
    db.session.commit()
    return jsonify(
        {
            "status": row.status,
            "decrypt_until": row.decrypt_until.isoformat() if row.decrypt_until else None,
            "tender_status": tender.status,
        }
    )


@bp.post("/tenders/<uuid:tender_id>/bids/<uuid:bid_id>/decrypt")
@roles_required(Role.TENDERER)
@api_doc(body=DecryptBody, responses={200: Out})
def decrypt_bid(tender_id: uuid.UUID, bid_id: uuid.UUID, body: DecryptBody):
    """Online decryption: send each part's file key, unwrapped on your machine; each part is checked."""

    tender, bid = bids.own_bid(db.session, current_user, tender_id, bid_id)
    states = opening.decrypt(db.session, current_user, tender, bid, dict(body.file_keys), client_ip())
    db.session.commit()
    # Every part is answered for, also on a second attempt: what this request did, or found (issue 18).
    return jsonify(
        {
            "results": [
                {
                    "part": state.part,
                    "status": state.status,
                    "failure_code": state.failure_code,
                    "price_fen": state.price_fen,
                    "attempt": state.attempt,
                    "platform_fault": state.platform_fault,
                }
                for state in states
            ]
        }
    )


@bp.get("/tenders/<uuid:tender_id>/opening/record")
@roles_required(Role.TENDERER, Role.AGENCY, Role.SUPERVISOR)
@api_doc(responses={200: Raw("application/json", "the signed opening record", {"type": "object"})})
def opening_record(tender_id: uuid.UUID):
    """The opening record signed by the platform: bidders, the agency and supervisors (R-B7)."""

    tender = services.visible(db.session, None, tender_id)
    if not may_see_opening_record(db.session, current_user, tender):
        raise NotFound(_l("No such tender."), code="tender_not_found")
    return opening.record_with_proof(db.session, tender), 200, {"Content-Type": "application/json"}


@bp.get("/tenders/<uuid:tender_id>/opening/shares/mine")
@roles_required(*CUSTODIAN_ROLES)
@api_doc(responses={200: Out})
def my_share(tender_id: uuid.UUID):
    """Your share of the tender's opening key, sealed to your custodian key, to open on your machine.

    Handed over only at or after the bid deadline (R-B4); every request, granted or refused, is logged.
    """

    tender = services.visible(db.session, None, tender_id)
    share, sealed = custodians.fetch_sealed_share(db.session, current_user, tender, client_ip())
    db.session.commit()
    return jsonify(
        {
            "role": share.role,
            "x": share.x,
            "share_sha256": share.share_sha256,
            "sealed": base64.b64encode(sealed).decode(),
            "released_at": share.released_at.isoformat() if share.released_at else None,
        }
    )


@bp.post("/tenders/<uuid:tender_id>/opening/shares")
@roles_required(*CUSTODIAN_ROLES)
@api_doc(body=ShareBody, responses={200: Out})
def release_share(tender_id: uuid.UUID, body: ShareBody):
    """Release your opening-key share once the opening has started; it must match its published hash."""

    share = opening.release_share(
        db.session,
        current_user,
        services.visible(db.session, None, tender_id),
        body.share,
        client_ip(),
    )
    db.session.commit()
    return jsonify({"role": share.role, "released_at": share.released_at.isoformat()})


@bp.post("/tenders/<uuid:tender_id>/opening/open-with-key")
@roles_required(Role.AGENCY)
@api_doc(body=OpenWithKeyBody, responses={200: Out})
def open_with_key(tender_id: uuid.UUID, body: OpenWithKeyBody):
    """Open bids whose owners could not decrypt through no fault of their own (R-B6) with released shares."""

    tender = services.manageable(db.session, current_user, tender_id)
    results = opening.open_with_opening_key(db.session, current_user, tender, list(body.bids), client_ip())
    db.session.commit()

    return jsonify(
        {
            "results": [
                {
                    "bid": str(part.bid_id),
                    "part": part.part,
                    "status": r.status,
                    "failure_code": r.failure_code,
                    "price_fen": r.price_fen,
                    "evidence": r.evidence,  # when the opening key failed too: whose fault (R-B1, R-B6)
                }
                for r in results
                for part in [get_row(db.session, BidPart, r.part_id)]
            ]
        }
    )


def attendance_json(row, opening_row: Opening | None) -> dict:
    return {
        "signed_in_at": row.signed_in_at.isoformat() if row.signed_in_at else None,
        "verdict": row.verdict,
        "verdict_at": row.verdict_at.isoformat() if row.verdict_at else None,
        "remark": row.remark or "",
        "record_pdf_sha256": opening_row.record_pdf_sha256 if opening_row else None,
    }


@bp.post("/tenders/<uuid:tender_id>/opening/sign-in")
@roles_required(Role.TENDERER)
@api_doc(responses={200: AttendanceOut})
def sign_in_to_opening(tender_id: uuid.UUID):
    """签到, as in the opening hall: your company says it is present, before the bid deadline. Bidders
    only; nobody else learns of it before the deadline (R-B4). Signing in again changes nothing."""

    tender = hall.watched(db.session, current_user, tender_id)
    row = hall.sign_in(db.session, current_user, tender, client_ip())
    db.session.commit()
    return jsonify(attendance_json(row, None))


@bp.post("/tenders/<uuid:tender_id>/opening/record/verdict")
@roles_required(Role.TENDERER)
@api_doc(body=VerdictBody, responses={200: AttendanceOut})
def answer_opening_record(tender_id: uuid.UUID, body: VerdictBody):
    """签字确认, as in the opening hall: once the opening is closed, your company signs its record
    (``confirmed``) or objects to it with the reason (``objected``, ``remark``); once (R-B7)."""

    tender = hall.watched(db.session, current_user, tender_id)
    row = hall.give_verdict(db.session, current_user, tender, body.verdict, body.remark, client_ip())
    db.session.commit()
    return jsonify(attendance_json(row, db.session.get(Opening, tender.id)))


@bp.get("/tenders/<uuid:tender_id>/opening/signals")
@roles_required(Role.SUPERVISOR)
@api_doc(responses={200: Out})
def collusion_signals(tender_id: uuid.UUID):
    """Signs of collusion among the opened bids (R-B8), for supervisors: signals, not verdicts."""

    tender = services.visible(db.session, None, tender_id)
    permissions.require_oversees(db.session, current_user, tender)
    if db.session.get(Opening, tender.id) is None:
        raise NotFound(_l("The opening has not started."), code="opening_not_started")
    return jsonify({"signals": collusion.signals(db.session, tender)})


def _team_json(tender) -> dict:
    return {
        "items": [
            {
                "user": str(user.id),
                "username": user.username,
                "name": user.display_name,
                "kind": row.kind,
                "assigned_at": row.assigned_at.isoformat(),
            }
            for row, user in permissions.team(db.session, tender)
        ]
    }


def _require_on_team(tender) -> None:
    """Only people already assigned (or administrators) see or change who acts on a tender."""
    if current_user.role == Role.ADMIN:
        return
    if current_user.role == Role.AGENCY:
        permissions.require_runs(db.session, current_user, tender)
    else:
        permissions.require_oversees(db.session, current_user, tender)


@bp.get("/tenders/<uuid:tender_id>/team")
@roles_required(Role.AGENCY, Role.SUPERVISOR, Role.ADMIN)
@api_doc(responses={200: ItemsOut})
def get_team(tender_id: uuid.UUID):
    """The people assigned to the tender: for them and administrators (rights are per person)."""
    tender = services.visible(db.session, current_user, tender_id)
    _require_on_team(tender)
    return jsonify(_team_json(tender))


@bp.post("/tenders/<uuid:tender_id>/team")
@roles_required(Role.AGENCY, Role.SUPERVISOR, Role.ADMIN)
@api_doc(body=TeamBody, responses={201: ItemsOut})
def assign_to_tender(tender_id: uuid.UUID, body: TeamBody):
    """Assign a colleague (agency staff or supervisors, of the assigner's own organisation) to the tender."""
    tender = services.visible(db.session, current_user, tender_id)
    _require_on_team(tender)
    user = db.session.scalar(select(User).where(func.lower(User.username) == body.username.lower()))
    if user is None:
        raise Invalid(_l("No such user."), code="invalid_assignee", details={"field": "username"})
    kind = body.kind or (permissions.AGENCY if user.role == Role.AGENCY else permissions.SUPERVISOR)
    permissions.assign(db.session, current_user, tender, user, kind, client_ip())
    db.session.commit()
    return jsonify(_team_json(tender)), 201


@bp.delete("/tenders/<uuid:tender_id>/team/<uuid:user_id>")
@roles_required(Role.AGENCY, Role.SUPERVISOR, Role.ADMIN)
@api_doc(responses={200: ItemsOut})
def unassign_from_tender(tender_id: uuid.UUID, user_id: uuid.UUID):
    """Take a colleague off the tender (at least one person of each kind stays)."""
    tender = services.visible(db.session, current_user, tender_id)
    _require_on_team(tender)
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_l("This person is not assigned to the tender."), code="assignment_not_found")
    permissions.unassign(db.session, current_user, tender, user, client_ip())
    db.session.commit()
    return jsonify(_team_json(tender))
