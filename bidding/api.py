"""Tender API (API.md): drafts and publication for agencies, notices for everyone."""

from __future__ import annotations

import contextlib
import uuid

from flask import Blueprint, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, or_, select

from accounts.models import User
from bidding import bank, services
from bidding.serializers import money, tender_json
from core import clock
from core.api import json_body, paginate
from core.auth import roles_required
from core.bodies import allow_upload_up_to
from core.db import db
from core.errors import DomainError, Invalid, NotFound
from core.extensions import client_ip
from core.openapi import api_doc
from core.roles import Role

bp = Blueprint("bidding_api", __name__, url_prefix="/api/v1")

MONEY = {"type": "object", "properties": {"amount_fen": {"type": "integer"}, "currency": {"type": "string"}}}
TIME = {"type": ["string", "null"], "format": "date-time"}
TENDER_BODY = {
    "type": "object",
    "required": ["title", "category", "tenderee_id", "estimated_price"],
    "properties": {
        "title": {"type": "string", "minLength": 4, "maxLength": 200},
        "track": {"enum": ["works", "procurement"]},
        "category": {"type": "string", "maxLength": 64},
        "region": {"type": "string", "maxLength": 64},
        "description": {"type": "string", "maxLength": 20000},
        "tenderee_id": {"type": "string", "format": "uuid"},
        "estimated_price": MONEY,
        "deposit": MONEY,
        "lots": {
            "type": "array",
            "minItems": 1,
            "maxItems": services.MAX_LOTS,
            "items": {
                "type": "object",
                "required": ["estimated_price"],
                "properties": {
                    "name": {"type": "string", "maxLength": 200},
                    "estimated_price": MONEY,
                    "deposit": MONEY,
                },
            },
        },
        "timeline": {"type": "object", "properties": {name: TIME for name in services.TIMELINE}},
        "scoring_scheme": {"type": "object"},
        "state_controlled": {"type": "boolean"},
    },
}


def _user_by(ref: str | None, role: Role) -> User | None:
    if not ref:
        return None
    condition = func.lower(User.username) == ref.lower()
    with contextlib.suppress(ValueError):  # a user id works as well as a user name
        condition = or_(condition, User.id == uuid.UUID(ref))
    user = db.session.scalar(select(User).where(condition, User.role == role))
    if user is None:
        raise Invalid(
            _l("No such %(role)s.", role=str(role)), code="invalid_custodian", details={"user": ref}
        )
    return user


@bp.post("/tenders")
@roles_required(Role.AGENCY)
@api_doc(request=TENDER_BODY, responses={201: "the draft tender"})
def create_tender():
    """Create a draft tender (agency)."""
    tender = services.create_draft(db.session, current_user, services.parse_tender(json_body()), client_ip())
    db.session.commit()
    return jsonify(tender_json(tender, clock.now(), manager=True)), 201


@bp.patch("/tenders/<uuid:tender_id>")
@roles_required(Role.AGENCY)
@api_doc(request=TENDER_BODY)
def update_tender(tender_id: uuid.UUID):
    """Change a draft tender's fields (agency, drafts only): the fields sent replace the current ones
    (`timeline` field by field, `lots` as a whole list); GET returns a body this accepts as it is."""
    tender = services.manageable(db.session, current_user, tender_id)
    changes = json_body()
    merged = tender_json(tender, clock.now(), manager=True)
    timeline = {**merged["timeline"], **services.as_object(changes.get("timeline"), "timeline")}
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
@api_doc(
    request={
        "type": "object",
        "required": ["supervisor"],
        "properties": {"supervisor": {"type": "string"}, "notary": {"type": "string"}},
    }
)
def publish_tender(tender_id: uuid.UUID):
    """Publish: checks the timeline (R-T1, R-T2, R-T3, R-T4, R-T6) and splits the opening key."""
    data = json_body(("supervisor",))
    tender = services.manageable(db.session, current_user, tender_id)
    services.publish(
        db.session,
        current_user,
        tender,
        supervisor=_user_by(data["supervisor"], Role.SUPERVISOR),
        notary=_user_by(data.get("notary"), Role.SUPERVISOR) if data.get("notary") else None,
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
@api_doc(public=True)
def list_tenders():
    """Published notices, newest first; `q` searches title, code and text (Chinese works), `category`."""
    query = services.published_query(request.args.get("q"), request.args.get("category"))
    now = clock.now()
    return jsonify(paginate(db.session, query, lambda t: tender_json(t, now)))


@bp.get("/tenders/<uuid:tender_id>")
@api_doc(public=True)
def get_tender(tender_id: uuid.UUID):
    """One notice; drafts only for their agency and tenderee."""
    actor = current_user if current_user.is_authenticated else None
    tender = services.visible(db.session, actor, tender_id)
    manager = actor is not None and actor.organization_id in (tender.agency_id, tender.tenderee_id)
    return jsonify(tender_json(tender, clock.now(), manager=manager))


@bp.get("/tenders/<uuid:tender_id>/opening-key")
@api_doc(public=True)
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
@api_doc(
    request={
        "type": "object",
        "required": ["kind", "lot"],
        "properties": {
            "kind": {"enum": ["money", "guarantee"]},
            "lot": {"type": "integer"},
            "amount": MONEY,
            "insurer": {"type": "string"},
            "policy_number": {"type": "string"},
            "verification_ref": {"type": "string", "description": "the insurer's verification reference"},
            "valid_until": {"type": "string"},
            "file_sha256": {"type": "string"},
        },
    },
    responses={201: "the e-guarantee", 202: "money: where to pay, with which reference"},
)
def pay_deposit(tender_id: uuid.UUID):
    """Pay a deposit: `money` answers where to pay and with which reference (202; the deposit is held
    when the bank's statement shows it paid from the basic account, R-D1); `guarantee` files an
    e-guarantee with the insurer's verification reference (201)."""
    from bidding import ledger

    data = json_body(("kind", "lot"))
    tender = services.visible(db.session, None, tender_id)
    lot = data["lot"]
    if not isinstance(lot, int) or isinstance(lot, bool):
        raise Invalid(_l("lot is the lot number."), code="invalid_lot", details={"field": "lot"})
    if data["kind"] == "money":
        # Money is held only when the bank's statement shows it (bidding/bank.py): here the tenderer
        # learns where to pay it and with which reference.
        bank.issue_reference(db.session, current_user, tender, lot, client_ip())
        db.session.commit()
        return jsonify(
            payment_json(bank.payment_status(db.session, current_user.organization_id, tender), lot)
        ), 202
    if data["kind"] != "guarantee":
        raise Invalid(_l("kind is money or guarantee."), code="invalid_kind", details={"field": "kind"})
    amount = services.parse_money(data.get("amount"), "amount")
    valid_until = services.parse_time(data.get("valid_until"), "valid_until")
    if valid_until is None:
        raise Invalid(
            _l("Give the guarantee's validity."), code="missing_fields", details={"fields": ["valid_until"]}
        )
    deposit = ledger.record_guarantee(
        db.session,
        current_user,
        tender,
        lot_number=lot,
        amount_fen=amount,
        insurer=str(data.get("insurer") or ""),
        policy_number=str(data.get("policy_number") or ""),
        verification_ref=str(data.get("verification_ref") or ""),
        valid_until=valid_until,
        file_sha256=str(data.get("file_sha256") or "").lower(),
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
def deposit_payment(tender_id: uuid.UUID):
    """Your deposit for each lot: the amount, the account and sub-account, your payment reference, and what
    the bank has shown (held, or a payment that could not be held and is returned)."""
    tender = services.visible(db.session, None, tender_id)
    return jsonify(
        {"items": payment_json(bank.payment_status(db.session, current_user.organization_id, tender))}
    )


@bp.get("/tenders/<uuid:tender_id>/deposits")
@roles_required(Role.TENDERER, Role.AGENCY, Role.SUPERVISOR)
def list_deposits(tender_id: uuid.UUID):
    """The tender's deposits: a tenderer sees its own; the agency and supervisors see all, but only
    after the bid deadline (before it, who paid would reveal who bids)."""
    from bidding.models import Deposit
    from bidding.permissions import Scope, sealed_scope

    tender = services.visible(db.session, None, tender_id)
    scope = sealed_scope(current_user, tender)
    if scope is Scope.SEALED:
        return jsonify({"items": [], "hidden_until": tender.bid_deadline.isoformat()})
    query = select(Deposit).where(Deposit.tender_id == tender.id).order_by(Deposit.created_at)
    if scope is Scope.OWN:
        query = query.where(Deposit.organization_id == current_user.organization_id)
    return jsonify({"items": [deposit_json(d) for d in db.session.scalars(query)]})


@bp.put("/organizations/mine/basic-account")
@roles_required(Role.TENDERER)
@api_doc(
    request={
        "type": "object",
        "required": ["bank", "account_no"],
        "properties": {"bank": {"type": "string"}, "account_no": {"type": "string"}},
    }
)
def set_basic_account():
    """Register your organisation's basic account (基本账户), where deposits must come from (R-D1)."""
    data = json_body(("bank", "account_no"))
    org = bank.set_basic_account(
        db.session, current_user, str(data["bank"]), str(data["account_no"]), client_ip()
    )
    db.session.commit()
    return jsonify({"bank": org.basic_account_bank, "account_no": org.basic_account_no})


@bp.get("/deposits/statement")
@roles_required(Role.TENDERER)
def deposit_statement():
    """Your organisation's deposits, refunds and interest."""
    from bidding import ledger

    return jsonify({"items": ledger.statement(db.session, current_user.organization_id)})


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
@api_doc(public=True)
def receipt_public_key():
    """The platform's receipt key (Ed25519, PEM): verify bid receipts offline with it."""
    from bidding import bids

    return bids.receipt_public_pem(), 200, {"Content-Type": "application/x-pem-file"}


@bp.post("/tenders/<uuid:tender_id>/bids")
@roles_required(Role.TENDERER)
@api_doc(
    request={"type": "object", "required": ["lot"], "properties": {"lot": {"type": "integer"}}},
    responses={201: "the bid, open for its parts"},
)
def open_bid(tender_id: uuid.UUID):
    """Start a bid for a lot; upload its parts, then submit it (before the deadline)."""
    from bidding import bids

    data = json_body(("lot",))
    if not isinstance(data["lot"], int) or isinstance(data["lot"], bool):
        raise Invalid(_l("lot is the lot number."), code="invalid_lot")
    bid = bids.open_bid(
        db.session, current_user, services.visible(db.session, None, tender_id), data["lot"], client_ip()
    )
    db.session.commit()
    return jsonify(bid_json(bid)), 201


@bp.put("/tenders/<uuid:tender_id>/bids/<uuid:bid_id>/parts/<part>")
@roles_required(Role.TENDERER)
@api_doc(responses={201: "the part was received and checked"})
def upload_part(tender_id: uuid.UUID, bid_id: uuid.UUID, part: str):
    """Upload one sealed part as the raw request body (streamed), with OUT.sig base64 in X-Bid-Signature."""
    from bidding import bids
    from core.app import storage

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
            storage(),
            client_ip(),
        )
    except DomainError:
        # Before core.bodies reads the rest of the refused body: no lock or connection held meanwhile.
        db.session.rollback()
        raise
    db.session.commit()
    return jsonify({"part": row.part, "sha256": row.sha256, "size": row.size}), 201


@bp.post("/tenders/<uuid:tender_id>/bids/<uuid:bid_id>/submit")
@roles_required(Role.TENDERER)
@api_doc(responses={201: "the signed receipt (R-B2)"})
def submit_bid(tender_id: uuid.UUID, bid_id: uuid.UUID):
    """Submit a bid whose parts are all uploaded: answers with the platform's signed receipt."""
    from bidding import bids

    tender, bid = bids.own_bid(db.session, current_user, tender_id, bid_id)
    receipt = bids.submit(db.session, current_user, tender, bid, client_ip())
    db.session.commit()
    return receipt, 201, {"Content-Type": "application/json"}


@bp.delete("/tenders/<uuid:tender_id>/bids/<uuid:bid_id>")
@roles_required(Role.TENDERER)
def withdraw_bid(tender_id: uuid.UUID, bid_id: uuid.UUID):
    """Withdraw a bid before the deadline (R-B4); its deposit is refunded within 5 days (R-D2)."""
    from bidding import bids

    tender, bid = bids.own_bid(db.session, current_user, tender_id, bid_id)
    bids.withdraw(db.session, current_user, tender, bid, client_ip())
    db.session.commit()
    return jsonify(bid_json(bid))


@bp.get("/tenders/<uuid:tender_id>/bids")
@roles_required(Role.TENDERER, Role.AGENCY, Role.SUPERVISOR)
def list_bids(tender_id: uuid.UUID):
    """Your own bids; for the agency and supervisors nothing before the deadline, not even a count."""
    from bidding.models import Bid
    from bidding.permissions import Scope, sealed_scope

    tender = services.visible(db.session, None, tender_id)
    scope = sealed_scope(current_user, tender)
    if scope is Scope.SEALED:
        return jsonify({"items": [], "hidden_until": tender.bid_deadline.isoformat()})
    query = select(Bid).where(Bid.tender_id == tender.id).order_by(Bid.created_at)
    if scope is Scope.OWN:
        query = query.where(Bid.organization_id == current_user.organization_id)
    else:
        query = query.where(Bid.status == "submitted")
    return jsonify({"items": [bid_json(b) for b in db.session.scalars(query)]})


# -- opening ------------------------------------------------------------------------------------------


@bp.post("/tenders/<uuid:tender_id>/opening")
@roles_required(Role.AGENCY)
def start_opening(tender_id: uuid.UUID):
    """Start the opening at/after the deadline (R-T5); fewer than 3 bids fail the tender (R-B5)."""
    from bidding import opening

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
@api_doc(
    request={
        "type": "object",
        "required": ["file_keys"],
        "properties": {"file_keys": {"type": "object", "description": "part -> base64 16-byte age file key"}},
    }
)
def decrypt_bid(tender_id: uuid.UUID, bid_id: uuid.UUID):
    """Online decryption: send each part's file key, unwrapped on your machine; each part is checked."""
    from bidding import bids, opening

    data = json_body(("file_keys",))
    if not isinstance(data["file_keys"], dict):
        raise Invalid(_l("file_keys maps each part to its key."), code="invalid_file_key")
    tender, bid = bids.own_bid(db.session, current_user, tender_id, bid_id)
    results = opening.decrypt(db.session, current_user, tender, bid, data["file_keys"], client_ip())
    db.session.commit()
    parts = {p.id: p.part for p in bid.parts}
    return jsonify(
        {
            "results": [
                {
                    "part": parts[r.part_id],
                    "status": r.status,
                    "failure_code": r.failure_code,
                    "price_fen": r.price_fen,
                }
                for r in results
            ]
        }
    )


@bp.get("/tenders/<uuid:tender_id>/opening/record")
@roles_required(Role.TENDERER, Role.AGENCY, Role.SUPERVISOR)
def opening_record(tender_id: uuid.UUID):
    """The opening record signed by the platform: bidders, the agency and supervisors (R-B7)."""
    from bidding import opening
    from bidding.permissions import may_see_opening_record

    tender = services.visible(db.session, None, tender_id)
    if not may_see_opening_record(db.session, current_user, tender):
        raise NotFound(_l("No such tender."), code="tender_not_found")
    return opening.signed_record(db.session, tender), 200, {"Content-Type": "application/json"}


@bp.get("/tenders/<uuid:tender_id>/opening/shares/mine")
@roles_required(Role.AGENCY, Role.SUPERVISOR, Role.ADMIN)
def my_share(tender_id: uuid.UUID):
    """Your sealed share of the tender's opening key (age, to your custodian key), to open on your machine."""
    import base64

    from bidding import opening

    share = opening.my_share(db.session, current_user, services.visible(db.session, None, tender_id))
    return jsonify(
        {
            "role": share.role,
            "x": share.x,
            "share_sha256": share.share_sha256,
            "sealed": base64.b64encode(share.sealed).decode(),
            "released_at": share.released_at.isoformat() if share.released_at else None,
        }
    )


@bp.post("/tenders/<uuid:tender_id>/opening/shares")
@roles_required(Role.AGENCY, Role.SUPERVISOR, Role.ADMIN)
@api_doc(request={"type": "object", "required": ["share"], "properties": {"share": {"type": "string"}}})
def release_share(tender_id: uuid.UUID):
    """Release your opening-key share once the opening has started; it must match its published hash."""
    from bidding import opening

    data = json_body(("share",))
    share = opening.release_share(
        db.session,
        current_user,
        services.visible(db.session, None, tender_id),
        str(data["share"]),
        client_ip(),
    )
    db.session.commit()
    return jsonify({"role": share.role, "released_at": share.released_at.isoformat()})


@bp.post("/tenders/<uuid:tender_id>/opening/open-with-key")
@roles_required(Role.AGENCY)
@api_doc(request={"type": "object", "required": ["bids"], "properties": {"bids": {"type": "array"}}})
def open_with_key(tender_id: uuid.UUID):
    """Open bids whose owners could not decrypt through no fault of their own (R-B6) with released shares."""
    from bidding import opening

    data = json_body(("bids",))
    try:
        bid_ids = [uuid.UUID(str(b)) for b in data["bids"]]
    except (ValueError, TypeError) as exc:
        raise Invalid(_l("bids lists bid ids."), code="invalid_bids") from exc
    tender = services.manageable(db.session, current_user, tender_id)
    results = opening.open_with_opening_key(db.session, current_user, tender, bid_ids, client_ip())
    db.session.commit()
    return jsonify(
        {
            "results": [
                {"status": r.status, "failure_code": r.failure_code, "price_fen": r.price_fen}
                for r in results
            ]
        }
    )


@bp.get("/tenders/<uuid:tender_id>/opening/signals")
@roles_required(Role.SUPERVISOR)
def collusion_signals(tender_id: uuid.UUID):
    """Signs of collusion among the opened bids (R-B8), for supervisors: signals, not verdicts."""
    from bidding import collusion
    from bidding.models import Opening

    tender = services.visible(db.session, None, tender_id)
    if db.session.get(Opening, tender.id) is None:
        raise NotFound(_l("The opening has not started."), code="opening_not_started")
    return jsonify({"signals": collusion.signals(db.session, tender)})
