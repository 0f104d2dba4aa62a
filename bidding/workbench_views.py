"""The tenderer's bid from the tender page (issue 15): start a bid, send sealed parts in resumable chunks
(from the page's own script, frontend/src/workbench.js), submit for the receipt, withdraw or replace,
and decrypt at the opening (frontend/src/decrypt.js). The page uses the session and its CSRF token; the
JSON API (bidding/api.py) offers the same to programs with bearer tokens. Both call the same services."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from bidding import bids, opening, services, uploads
from core.auth import roles_required
from core.bodies import allow_upload_up_to
from core.db import db, streams_first
from core.errors import Invalid, NotFound
from core.extensions import arrived_at, client_ip
from core.labels import label
from core.roles import Role
from core.storage import file_store
from core.uow import attempt
from crypto import age

bp = Blueprint("workbench", __name__)


def _back(tender_id: uuid.UUID):
    return redirect(url_for("bidding.notice", tender_id=tender_id) + "#my-bid")


@bp.post("/tenders/<uuid:tender_id>/my-bid")
@roles_required(Role.TENDERER)
def start(tender_id: uuid.UUID):
    tender = services.visible(db.session, current_user, tender_id)
    lot = request.form.get("lot", type=int) or 1
    attempt(
        lambda: bids.open_bid(db.session, current_user, tender, lot, client_ip()),
        _("Your bid is started: seal and upload its three parts below, then submit it."),
    )
    return _back(tender_id)


@bp.post("/tenders/<uuid:tender_id>/my-bid/<uuid:bid_id>/parts/<part>/uploads")
@roles_required(Role.TENDERER)
def begin_upload(tender_id: uuid.UUID, bid_id: uuid.UUID, part: str):
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


@bp.patch("/tenders/<uuid:tender_id>/my-bid/<uuid:bid_id>/uploads/<uuid:upload_id>")
@streams_first
@roles_required(Role.TENDERER)
def upload_chunk(tender_id: uuid.UUID, bid_id: uuid.UUID, upload_id: uuid.UUID):
    return chunk_answer(tender_id, bid_id, upload_id)


def chunk_answer(tender_id: uuid.UUID, bid_id: uuid.UUID, upload_id: uuid.UUID):
    """Receive one chunk from the request (headers and raw body) and answer the upload's state: the
    same for the page's session route and the API's bearer route (bidding/api.py)."""
    allow_upload_up_to(uploads.CHUNK_MAX)
    upload, row = uploads.receive_chunk(
        db.session,
        current_user,
        tender_id,
        bid_id,
        upload_id,
        request.headers.get("Upload-Offset"),
        request.headers.get("X-Chunk-SHA256"),
        request.content_length,
        request.stream,
        file_store(),
        client_ip(),
    )
    answer = uploads.state(upload, row)
    db.session.commit()
    return jsonify(answer), 201 if row is not None else 200


@bp.post("/tenders/<uuid:tender_id>/my-bid/<uuid:bid_id>/submit")
@roles_required(Role.TENDERER)
def submit(tender_id: uuid.UUID, bid_id: uuid.UUID):
    tender, bid = bids.own_bid(db.session, current_user, tender_id, bid_id)
    attempt(
        lambda: bids.submit(db.session, current_user, tender, bid, client_ip(), arrived_at=arrived_at()),
        _("Your bid is submitted. Download its receipt below and keep it (R-B2)."),
    )
    return _back(tender_id)


@bp.post("/tenders/<uuid:tender_id>/my-bid/<uuid:bid_id>/withdraw")
@roles_required(Role.TENDERER)
def withdraw(tender_id: uuid.UUID, bid_id: uuid.UUID):
    tender, bid = bids.own_bid(db.session, current_user, tender_id, bid_id)
    attempt(
        lambda: bids.withdraw(db.session, current_user, tender, bid, client_ip()),
        _("Your bid is withdrawn (R-B4). You may start a new one before the deadline."),
    )
    return _back(tender_id)


@bp.get("/tenders/<uuid:tender_id>/my-bid/<uuid:bid_id>/parts/<part>/header")
@roles_required(Role.TENDERER)
def part_header(tender_id: uuid.UUID, bid_id: uuid.UUID, part: str):
    """The age header of the stored envelope (its owner only): what online decryption unwraps the file
    key from in the browser, so the tenderer needs its identity file and nothing else."""
    _tender, bid = bids.own_bid(db.session, current_user, tender_id, bid_id)
    row = next((p for p in bid.parts if p.part == part), None)
    if row is None:
        raise NotFound(_("This part was not uploaded."), code="part_not_found")
    with file_store().open(row.sha256) as f:
        header = age.read_header(f)
    return Response(header.raw, mimetype="application/octet-stream")


@bp.post("/tenders/<uuid:tender_id>/my-bid/<uuid:bid_id>/decrypt")
@roles_required(Role.TENDERER)
def decrypt(tender_id: uuid.UUID, bid_id: uuid.UUID):
    """Online decryption from the page: only the file keys come, unwrapped in the browser."""
    tender, bid = bids.own_bid(db.session, current_user, tender_id, bid_id)
    keys = (request.get_json(silent=True) or {}).get("file_keys")
    if not isinstance(keys, dict):
        raise Invalid(
            _("Send the file key of each part."), code="missing_fields", details={"fields": ["file_keys"]}
        )
    states = opening.decrypt(db.session, current_user, tender, bid, keys, client_ip())
    db.session.commit()
    return jsonify(
        {
            "results": [
                {
                    "part": s.part,
                    "status": s.status,
                    "failure_code": s.failure_code,
                    "attempt": s.attempt,
                    "platform_fault": s.platform_fault,
                    "state_text": label("decryption", s.status),
                    # What the page shows: words, never the codes (a second try says what it found).
                    "text": _(
                        "%(part)s: %(attempt)s",
                        part=label("bid_parts.part", s.part),
                        attempt=label("decryption.attempt", s.attempt),
                    )
                    + (
                        f" ({label('error', s.failure_code, _('decryption failed'))})"
                        if s.failure_code
                        else ""
                    ),
                }
                for s in states
            ]
        }
    )
