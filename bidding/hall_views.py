"""The opening hall's pages (开标大厅): the hall, its live board, and the acts done there.

The board is polled (``hall.js``) with the ETag of what the watcher last saw: "not modified" costs one
read of the tender's change counter (bidding.hall_changes), on any web host, through any threaded
gunicorn worker; no connection is held open between polls (server-sent events would tie a worker thread
to each watcher and need a fan-out between hosts). Forms post and come back to the hall.
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections import OrderedDict

from flask import Blueprint, flash, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from bidding import hall, objections, opening, services
from bidding.forms import CloseOpeningForm, ObjectionAnswerForm, ObjectionForm
from bidding.models import Tender
from core import clock
from core.auth import roles_required
from core.db import db
from core.errors import Invalid, NotFound
from core.extensions import client_ip
from core.roles import Role
from core.storage import file_store
from core.uow import attempt

bp = Blueprint("hall", __name__)
CUSTODIAN_ROLES = (Role.AGENCY, Role.SUPERVISOR, Role.NOTARY)
POLL_MS = 1500  # the board's poll interval: a change shows within ~2 s (goal: 3 s)


def _watcher():
    return current_user if current_user.is_authenticated else None


def _tender(tender_id: uuid.UUID):
    tender = services.visible(db.session, _watcher(), tender_id)
    hall.require_watch(db.session, _watcher(), tender)
    return tender


def _back(tender_id: uuid.UUID, anchor: str = ""):
    return redirect(url_for("hall.hall_page", tender_id=tender_id) + anchor)


def shared_regions(board: hall.Board) -> str:
    """The board's regions every watcher sees alike, rendered once per tender, revision, stage and
    language in this process: when a decryption changes every watcher's board, each poll that follows
    costs its own small part, not the whole table again."""
    key = (board.tender.id, board.tender.hall_revision, board.stage, str(get_locale()))
    with _RENDERED_LOCK:
        html = _RENDERED.get(key)
    if html is None:
        html = render_template("bidding/_hall_shared.html", board=board)
        with _RENDERED_LOCK:
            _RENDERED[key] = html
            while len(_RENDERED) > hall.SNAPSHOTS_KEPT:
                _RENDERED.popitem(last=False)
    return html


_RENDERED: OrderedDict[tuple, str] = OrderedDict()
_RENDERED_LOCK = threading.Lock()


def _context(tender) -> dict:
    board = hall.board(db.session, _watcher(), tender)
    return {
        "board": board,
        "shared_regions": shared_regions(board),
        "form": FlaskForm(),
        "objection_form": ObjectionForm() if board.may_object else None,
        "answer_form": ObjectionAnswerForm() if board.role == "agency" else None,
        "close_form": CloseOpeningForm()
        if board.role == "agency" and board.stage in ("decrypting", "window_closed")
        else None,
        "poll_ms": POLL_MS,
    }


def _etag(tender) -> str:
    return hall.version(db.session, _watcher(), tender, str(get_locale()))


@bp.get("/tenders/<uuid:tender_id>/hall")
def hall_page(tender_id: uuid.UUID):
    tender = _tender(tender_id)
    response = render_template("bidding/hall.html", tender=tender, etag=_etag(tender), **_context(tender))
    return response, 200, {"Cache-Control": "private, no-store"}


@bp.get("/tenders/<uuid:tender_id>/hall/board")
def board(tender_id: uuid.UUID):
    """The live part of the hall, for the page's poll: 304 while nothing the watcher sees changed.

    The ETag names the watcher (its user id) and the hall's stage, and is issued only after the rights
    were checked; within one stage a watcher's rights do not change, so a poll presenting its own current
    ETag is answered 304 from three reads by primary key, without checking them again. A 304 carries
    nothing; any change of the board or of the stage gives a new ETag and the full check."""
    tender = db.session.get(Tender, tender_id)
    if tender is None or tender.status == "draft":
        raise NotFound(_("No such tender."), code="tender_not_found")
    tag = _etag(tender)
    headers = {
        "ETag": f'"{tag}"',
        "Cache-Control": "private, no-cache",
        "Vary": "Cookie, Accept-Language",
        # The server's clock, so each page's countdowns follow it, not the watcher's PC clock.
        "X-Server-Time": clock.now().isoformat(),
    }
    if request.if_none_match.contains(tag):
        return "", 304, headers
    tender = _tender(tender_id)
    html = render_template("bidding/_hall_board.html", tender=tender, **_context(tender))
    return html, 200, headers


@bp.post("/tenders/<uuid:tender_id>/hall/sign-in")
@roles_required(Role.TENDERER)
def sign_in(tender_id: uuid.UUID):
    tender = _tender(tender_id)
    if FlaskForm().validate_on_submit():
        attempt(
            lambda: hall.sign_in(db.session, current_user, tender, client_ip()),
            _("Signed in: you are present at the opening."),
        )
    return _back(tender_id)


@bp.post("/tenders/<uuid:tender_id>/hall/start")
@roles_required(Role.AGENCY)
def start(tender_id: uuid.UUID):
    """The fallback where no scheduler ran: the agency starts the opening (R-T5)."""
    tender = services.manageable(db.session, current_user, tender_id)
    if FlaskForm().validate_on_submit():
        attempt(
            lambda: opening.start(db.session, current_user, tender, client_ip()),
            _("The opening has started."),
        )
    return _back(tender_id)


@bp.post("/tenders/<uuid:tender_id>/hall/objections")
@roles_required(Role.TENDERER)
def raise_objection(tender_id: uuid.UUID):
    tender = _tender(tender_id)
    form = ObjectionForm()
    if form.validate_on_submit():
        attempt(
            lambda: objections.raise_objection(
                db.session, current_user, tender, "opening", form.text.data, client_ip()
            ),
            _("Your objection is recorded; the agency answers it in the hall (R-B7)."),
        )
    else:
        _flash_form_errors(form)
    return _back(tender_id, "#hall-objections")


@bp.post("/tenders/<uuid:tender_id>/hall/objections/<uuid:objection_id>/answer")
@roles_required(Role.AGENCY)
def answer_objection(tender_id: uuid.UUID, objection_id: uuid.UUID):
    tender = services.manageable(db.session, current_user, tender_id)
    form = ObjectionAnswerForm()
    if form.validate_on_submit():
        attempt(
            lambda: objections.answer(
                db.session,
                current_user,
                tender,
                objections.get(db.session, tender, objection_id),
                form.answer.data,
                client_ip(),
            ),
            _("The answer is recorded and sent to the objector."),
        )
    else:
        _flash_form_errors(form)
    return _back(tender_id, "#hall-objections")


@bp.get("/tenders/<uuid:tender_id>/hall/share")
@roles_required(*CUSTODIAN_ROLES)
def my_share(tender_id: uuid.UUID):
    """The custodian's share sealed to its own key, for the page to open with the identity file, which
    never leaves the custodian's machine. Logged like every fetch (R-B4)."""
    tender = services.visible(db.session, current_user, tender_id)
    share, sealed = hall.sealed_share(db.session, current_user, tender, client_ip())
    db.session.commit()
    return (
        jsonify(
            {"x": share.x, "share_sha256": share.share_sha256, "sealed": base64.b64encode(sealed).decode()}
        ),
        200,
        {"Cache-Control": "private, no-store"},
    )


@bp.post("/tenders/<uuid:tender_id>/hall/share")
@roles_required(*CUSTODIAN_ROLES)
def release_share(tender_id: uuid.UUID):
    tender = services.visible(db.session, current_user, tender_id)
    if FlaskForm().validate_on_submit():
        attempt(
            lambda: opening.release_share(
                db.session, current_user, tender, request.form.get("share", ""), client_ip()
            ),
            _("Your share is released (R-B6)."),
        )
    return _back(tender_id, "#hall-custody")


@bp.post("/tenders/<uuid:tender_id>/hall/open-with-key")
@roles_required(Role.AGENCY)
def open_with_key(tender_id: uuid.UUID):
    """R-B6: open the marked bids with the opening key the custodians' shares rebuild."""
    tender = services.manageable(db.session, current_user, tender_id)
    if FlaskForm().validate_on_submit():

        def action():
            chosen = _bid_ids(request.form.getlist("bid"))
            if not chosen:
                raise Invalid(
                    _("Choose the bids to open with the opening key."),
                    code="missing_fields",
                    details={"field": "bid"},
                )
            opening.open_with_opening_key(db.session, current_user, tender, chosen, client_ip())

        attempt(action, _("The opening key was rebuilt and the chosen bids opened with it."))
    return _back(tender_id, "#hall-closing")


@bp.post("/tenders/<uuid:tender_id>/hall/close")
@roles_required(Role.AGENCY)
def close(tender_id: uuid.UUID):
    """The closing checklist: each bid not fully decrypted marked the tenderer's fault or not, with the
    reason (R-B6); then the record is signed (R-B7)."""
    tender = services.manageable(db.session, current_user, tender_id)
    form = CloseOpeningForm()
    if form.validate_on_submit():

        def action():
            pending = {row.bid_id: row for row in hall.board(db.session, current_user, tender).left_to_judge}
            opening.close(
                db.session,
                current_user,
                tender,
                checklist(request.form, pending),
                forfeit_revoked=form.forfeit_revoked.data,
                ip=client_ip(),
            )

        attempt(action, _("The opening is closed and its record signed."))
    return _back(tender_id, "#hall-record")


def checklist(form, pending: dict) -> dict[str, str]:
    """The reasons of bids marked "not the tenderer's fault"; every bid on the list must be marked and
    each such mark needs its reason (bids whose fault is established or the platform's are fixed)."""
    no_fault = {}
    for bid_id, row in pending.items():
        if row.tenderers_fault or row.platform_fault:
            continue
        choice = form.get(f"fault-{bid_id}")
        reason = (form.get(f"reason-{bid_id}") or "").strip()
        if choice not in ("tenderer", "none"):
            raise Invalid(
                _("Mark each bid on the list: the tenderer's fault or not."),
                code="checklist_incomplete",
                details={"field": "fault"},
            )
        if choice == "none":
            if not reason:
                raise Invalid(
                    _(
                        "Give the reason %(tenderer)s's bid failed through no fault of its own.",
                        tenderer=row.tenderer,
                    ),
                    code="reason_required",
                    details={"field": "reason"},
                )
            no_fault[bid_id] = reason
    return no_fault


@bp.post("/tenders/<uuid:tender_id>/hall/verdict")
@roles_required(Role.TENDERER)
def verdict(tender_id: uuid.UUID):
    """签字确认, or an objection to the record with its reason (R-B7)."""
    tender = _tender(tender_id)
    if FlaskForm().validate_on_submit():
        choice = request.form.get("verdict", "")
        attempt(
            lambda: hall.give_verdict(
                db.session, current_user, tender, choice, request.form.get("remark", ""), client_ip()
            ),
            _("Your company has signed the record.")
            if choice == "confirmed"
            else _("Your objection to the record is recorded."),
        )
    return _back(tender_id, "#hall-record")


@bp.get("/tenders/<uuid:tender_id>/hall/record.pdf")
def record_pdf(tender_id: uuid.UUID):
    """The signed 开标记录表 in the browser's viewer (R-B7, R-R2)."""
    tender = services.visible(db.session, _watcher(), tender_id)
    digest = hall.record_pdf(db.session, _watcher(), tender)
    response = send_file(
        file_store().path_for(digest),
        mimetype="application/pdf",
        download_name=f"{tender.code}-opening-record.pdf",
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'self'"
    return response


def _bid_ids(values: list[str]) -> list[uuid.UUID]:
    out = []
    for value in values:
        try:
            out.append(uuid.UUID(value))
        except ValueError as exc:
            raise Invalid(
                _("Choose the bids from the list."), code="invalid_bid", details={"field": "bid"}
            ) from exc
    return out


def _flash_form_errors(form) -> None:
    for errors in form.errors.values():
        for error in errors:
            flash(str(error), "error")
