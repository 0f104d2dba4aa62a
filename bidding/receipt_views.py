"""Receipts in the browser (R-B2, issue 18): a tenderer downloads its bid's receipt with the log proof,
and anyone signed in checks a receipt: the platform's signature, the proof that the submission is in
a checkpoint the witness cosigned, that the log still extends that checkpoint, and that the platform
still holds the bid as receipted."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, render_template, request

from bidding import bids
from core.auth import login_required, roles_required
from core.db import db
from core.roles import Role

bp = Blueprint("receipts", __name__)

MAX_RECEIPT = 256 * 1024


@bp.get("/tenders/<uuid:tender_id>/bids/<uuid:bid_id>/receipt.json")
@roles_required(Role.TENDERER)
def download(tender_id: uuid.UUID, bid_id: uuid.UUID):
    from flask_login import current_user

    _tender, bid = bids.own_bid(db.session, current_user, tender_id, bid_id)
    return Response(
        bids.receipt_with_proof(db.session, bid),
        mimetype="application/json",
        headers={"Content-Disposition": f"attachment; filename=receipt-{bid.id}.json"},
    )


@bp.route("/receipts/check", methods=["GET", "POST"])
@login_required
def check():
    result = None
    if request.method == "POST":
        upload = request.files.get("receipt")
        data = upload.read(MAX_RECEIPT + 1) if upload and upload.filename else b""
        if not data:
            data = request.form.get("text", "").encode()
        result = bids.check_receipt(db.session, data)
    received = None
    if result is not None and result.payload is not None:
        from datetime import datetime

        received = datetime.fromisoformat(result.payload["received_at"])
    return render_template("bidding/receipt_check.html", result=result, received=received)
