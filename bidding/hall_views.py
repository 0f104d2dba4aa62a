"""The opening hall's pages (开标大厅): the hall, its live board, and the acts done there.

The board is polled (``hall.js``) with the ETag of what the watcher last saw: "not modified" is answered
from the process's memory (see "the poll" below; the change counter in bidding.hall_changes), on any web
host, through any threaded gunicorn worker; no connection is held open between polls (server-sent events
would tie a worker thread to each watcher and need a fan-out between hosts). Forms post and come back to
the hall.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
import time
import uuid

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import generate_csrf

from accounts import sessions
from bidding import hall, hall_changes, objections, opening, services
from bidding.forms import CloseOpeningForm, ObjectionAnswerForm, ObjectionForm
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
    return hall.watched(db.session, _watcher(), tender_id)


def _back(tender_id: uuid.UUID, anchor: str = ""):
    return redirect(url_for("hall.hall_page", tender_id=tender_id) + anchor)


def shared_regions(board: hall.Board) -> str:
    """The board's regions every watcher sees alike, rendered once per tender, revision, stage and
    language in this process: when a decryption changes every watcher's board, each poll that follows
    costs its own small part, not the whole table again."""
    key = (board.tender.id, board.tender.hall_revision, board.stage, str(get_locale()))
    return _RENDERED.get_or_make(key, lambda: render_template("bidding/_hall_shared.html", board=board))


_RENDERED: hall_changes.Memo[str] = hall_changes.Memo(hall.SNAPSHOTS_KEPT)


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


# -- the poll ------------------------------------------------------------------------------------------
#
# A poll is answered from this process's memory where it can, before anything else looks at the request
# (``answer_from_memory``, the app's first before-request step): the session cookie (signed) names the
# watcher; a check of that session and of the watcher's rights, made by the full path at most
# ``CHECKED_FOR`` seconds ago, stands; the hall's facts are hall_changes.facts. Then "not modified" costs
# no database read, no user loaded, no template; a changed board whose render this watcher's audience
# (role, company, custodian share, sign-in) already has costs the same plus the form token. Anything
# else goes the full way (rights, board, render), which fills the memory.

CHECKED_FOR = 20.0  # seconds; the full path also keeps the session alive (accounts.sessions.alive)
# (user, sid, language) -> org, locale, when checked, the count of ended sessions then
_WATCHERS: dict[tuple, tuple[uuid.UUID | None, str, float, tuple[int, int | None]]] = {}
_AUDIENCES: dict[tuple, tuple[tuple, float]] = {}  # (user, tender, stage) -> audience
# (tender, revision, stage, locale, audience, signed in) -> html
_BOARDS: hall_changes.Memo[str] = hall_changes.Memo(512)
_MEMORY_LOCK = threading.Lock()


def _cookie_watcher() -> tuple[str | None, str | None]:
    """The user id and session id the signed session cookie names (None, None: nobody signed in)."""
    user = session.get("_user_id")
    return (user.split(":", 1)[0] if isinstance(user, str) else None), session.get(sessions.COOKIE_KEY)


def _language() -> str:
    """What the page's language is chosen from without loading the user (core.i18n.select_locale)."""
    return f"{session.get('lang', '')}|{request.headers.get('Accept-Language', '')}"


def _fresh(checked_at: float) -> bool:
    return time.monotonic() - checked_at < CHECKED_FOR


def _poll_headers(tag: str) -> dict[str, str]:
    return {
        "ETag": f'"{tag}"',
        "Cache-Control": "private, no-store",
        "Vary": "Cookie, Accept-Language",
        # The server's clock, so each page's countdowns follow it, not the watcher's PC clock.
        "X-Server-Time": clock.now().isoformat(),
    }


def _csrf_slot() -> str:
    """Where each watcher's own form token goes in a shared render: alike in every process of the
    platform (renders are shared through Redis), guessed by nobody (made from the secret key)."""
    slot = current_app.extensions.get("hall.csrf_slot")
    if slot is None:
        key = str(current_app.config["SECRET_KEY"]).encode()
        slot = current_app.extensions["hall.csrf_slot"] = (
            "hall-csrf-" + hmac.new(key, b"hall board csrf slot", hashlib.sha256).hexdigest()[:24]
        )
    return slot


def _with_token(html: str) -> str:
    g.pop("csrf_token", None)  # made from this request's session, whatever ran before in this context
    return html.replace(_csrf_slot(), generate_csrf())


def _rendered(key: tuple, render) -> str:
    """The board for ``key``: rendered by this process, or by another (through Redis), or now."""

    def make() -> str:
        html = hall_changes.shared_get(_shared_name(key))
        if html is None:
            html = render()
            hall_changes.shared_put(_shared_name(key), html)
        return html

    return _BOARDS.get_or_make(key, make)


def _shared_name(key: tuple) -> str:
    return hashlib.sha256(repr(key).encode()).hexdigest()


def answer_from_memory():
    """The poll answered from memory (see above), or None: the full way."""
    if request.endpoint not in ("hall.board", "hall.hall_page") or request.view_args is None:
        return None
    # Read before anything checks the session: a session ended after this is caught next time.
    epoch = g.hall_sessions_epoch = hall_changes.sessions_epoch()
    if request.endpoint != "hall.board":
        return None
    user_id, sid = _cookie_watcher()
    language = _language()
    with _MEMORY_LOCK:
        known = _WATCHERS.get((user_id, sid, language))
    if known is None or not _fresh(known[2]) or known[3] != epoch or None in epoch:
        return None  # unchecked, checked too long ago, or a session ended since (maybe this one)
    org_id, locale, _checked, _epoch = known
    tender_id = request.view_args["tender_id"]
    facts = hall_changes.facts(db.session, tender_id)
    if facts is None:
        return None
    tag = hall.etag(facts, user_id, org_id, language)
    if request.if_none_match.contains(tag):
        return "", 304, _poll_headers(tag)
    at_stage = hall.stage(facts, facts.opening, clock.now())
    with _MEMORY_LOCK:
        audience = _AUDIENCES.get((user_id, tender_id, at_stage))
    if audience is None or not _fresh(audience[1]):
        return None
    key = _board_key(tender_id, facts, at_stage, locale, audience[0], org_id)
    html = _BOARDS.get(key)
    if html is None:
        html = hall_changes.shared_get(_shared_name(key))  # rendered by another process
        if html is None:
            return None
        _BOARDS.put(key, html)
    return _with_token(html), 200, _poll_headers(tag)


def _board_key(tender_id, facts: hall_changes.Facts, at_stage: str, locale: str, audience: tuple, org_id):
    return (
        tender_id,
        facts.revision,
        at_stage,
        locale,
        audience,
        org_id in facts.signed_in if org_id else None,
    )


def _remember_watcher() -> tuple[str | None, uuid.UUID | None]:
    """After the full check of the session (current_user loaded): remember it for CHECKED_FOR."""
    user = _watcher()
    user_id, sid = _cookie_watcher()
    if user is None:
        user_id = sid = None
    elif user_id != str(user.id):
        return str(user.id), user.organization_id  # a bearer or other login: nothing to remember
    org_id = getattr(user, "organization_id", None)
    epoch = g.get("hall_sessions_epoch") or (0, None)  # read before the check (answer_from_memory)
    with _MEMORY_LOCK:
        _WATCHERS[(user_id, sid, _language())] = (org_id, str(get_locale()), time.monotonic(), epoch)
        if len(_WATCHERS) > 20_000:
            _WATCHERS.clear()
    return user_id, org_id


def _facts(tender_id: uuid.UUID) -> hall_changes.Facts:
    facts = hall_changes.facts(db.session, tender_id)
    if facts is None:
        raise NotFound(_("No such tender."), code="tender_not_found")
    return facts


@bp.get("/tenders/<uuid:tender_id>/hall")
def hall_page(tender_id: uuid.UUID):
    tender = _tender(tender_id)
    user_id, org_id = _remember_watcher()
    etag = hall.etag(_facts(tender_id), user_id, org_id, _language())
    response = render_template("bidding/hall.html", tender=tender, etag=etag, **_context(tender))
    return response, 200, {"Cache-Control": "private, no-store"}


@bp.get("/tenders/<uuid:tender_id>/hall/board")
def board(tender_id: uuid.UUID):
    """The live part of the hall, for the page's poll, the full way: 304 while nothing the watcher sees
    changed, else the board, rendered once per audience and revision (and remembered, see above)."""
    user_id, org_id = _remember_watcher()
    facts = _facts(tender_id)
    tag = hall.etag(facts, user_id, org_id, _language())
    if request.if_none_match.contains(tag):
        return "", 304, _poll_headers(tag)
    tender = _tender(tender_id)
    # flask_wtf.csrf.generate_csrf: the forms made below carry the slot, each answer its session's token
    g.csrf_token = _csrf_slot()
    try:
        context = _context(tender)
        board = context["board"]
        audience = (board.role, org_id, board.my_share.id if board.my_share else None)
        key = _board_key(tender_id, facts, board.stage, str(get_locale()), audience, org_id)
        html = _rendered(key, lambda: render_template("bidding/_hall_board.html", tender=tender, **context))
    finally:
        g.pop("csrf_token", None)
    with _MEMORY_LOCK:
        _AUDIENCES[(user_id, tender_id, board.stage)] = (audience, time.monotonic())
        if len(_AUDIENCES) > 20_000:
            _AUDIENCES.clear()
    return _with_token(html), 200, _poll_headers(tag)


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
