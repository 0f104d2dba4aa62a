"""The supervisor's audit page: filter the log, see the latest checkpoint, verify the whole log."""

from __future__ import annotations

import csv
import io

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import or_, select

from accounts.models import User
from audit import cosign, dbverify, describe, log
from audit.queries import entries_query, parse_time
from core import paging
from core.auth import roles_required
from core.db import db
from core.errors import DomainError, Invalid
from core.extensions import client_ip
from core.labels import choices
from core.present import error_text, when
from core.roles import Role
from crypto import note

bp = Blueprint("audit", __name__, url_prefix="/audit")

PER_PAGE = 50
EXPORT_LIMIT = 100_000


def _filtered():
    """The page's filters as a query, with what to show back: tender code, actor, event kind, time."""

    args = request.args
    actor_ids = None
    target_ids = None
    error = None
    try:
        if args.get("actor", "").strip():
            name = args["actor"].strip()
            actor_ids = db.session.scalars(
                select(User.id).where(
                    or_(User.username == name, User.display_name.contains(name, autoescape=True))
                )
            ).all()
            if not actor_ids:
                error = _("No user named %(name)s.", name=name)
        if args.get("tender", "").strip():
            tender_id = describe.find_tender(db.session, args["tender"])
            if tender_id is None:
                error = _("No tender with the code %(code)s.", code=args["tender"].strip())
            else:
                target_ids = describe.tender_target_ids(db.session, tender_id)
        elif args.get("target"):  # a tender's trail, from the supervisor's dashboard
            target_ids = {args["target"]}
        query = entries_query(
            actor_ids=actor_ids,
            action=args.get("action") or None,
            target_ids=target_ids,
            since=parse_time(args.get("from"), "from"),
            until=parse_time(args.get("to"), "to"),
        )
    except DomainError as exc:
        error, query = error_text(exc), entries_query()
    return query, error


def _names(entries) -> dict:
    """Display names by user id: the actors, and the accounts that refused sign-ins were made to."""
    user_ids = {e.actor_id for e in entries if e.actor_id} | {
        user_id for e in entries if (user_id := describe.claimed_user(e)) is not None
    }
    if not user_ids:
        return {}
    rows = db.session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids)))
    return {user_id: name for user_id, name in rows}


@bp.get("/")
@roles_required(Role.SUPERVISOR)
def index():
    query, error = _filtered()
    page = paging.Page([], 1, PER_PAGE, 0) if error else paging.page_of(db.session, query, PER_PAGE)
    shown = page.items
    size, checkpoint = log.current_checkpoint(db.session)
    return render_template(
        "audit/index.html",
        lines=describe.describe(db.session, shown, _names(shown)),
        page=page,
        size=size,
        checkpoint=checkpoint,
        error=error,
        verifier_key=log.verifier().key_string(),
        kinds=_kinds(),
        **_witness(),
    )


def _witness() -> dict:
    """The latest checkpoint the witness cosigned, or why there is none: the page's own memory (in the
    browser, static/js/checkpoint-memory.js) checks it against the one it saw last."""
    refused = unavailable = None
    try:
        cosigned = cosign.publish(db.session, confirm=True)
    except cosign.WitnessRefused as exc:
        refused, cosigned = str(exc), cosign.latest(db.session)
    except cosign.WitnessUnavailable:
        unavailable, cosigned = True, cosign.latest(db.session)
    return {
        "cosigned": cosigned,
        "cosigned_size": _size_of(cosigned.note) if cosigned else None,
        "witness_keys": [w.key_string() for w in cosign.witness_verifiers()],
        "witness_refused": refused,
        "witness_unavailable": unavailable,
        "witness_configured": cosign.configured(),
    }


def _size_of(signed: str) -> int:
    return note.parse_checkpoint(note.parse_note(signed.encode()).text).size


def _kinds() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """The event-kind filter's options: each domain, then its actions, in words."""
    actions = choices("audit.action")
    return [
        (prefix, text, [(value, words) for value, words in actions if value.startswith(prefix)])
        for prefix, text in choices("audit.domain")
    ]


@bp.get("/export.csv")
@roles_required(Role.SUPERVISOR)
def export_csv():
    """The filtered trail as a spreadsheet (UTF-8 with BOM, which Excel needs to read Chinese)."""
    query, error = _filtered()
    if error:
        raise Invalid(error, code="invalid_filter")
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(
        [
            _("No."),
            _("Time (Beijing)"),
            _("Who"),
            _("Role"),
            _("What"),
            _("Tender"),
            _("Address"),
            _("Leaf hash"),
        ]
    )
    for chunk in _chunks(db.session.scalars(query.limit(EXPORT_LIMIT)).all(), PER_PAGE):
        for line in describe.describe(db.session, chunk, _names(chunk)):
            writer.writerow(
                [
                    line.index,
                    when(line.time, "seconds"),
                    line.who,
                    line.role,
                    line.what,
                    line.tender_code or "",
                    line.ip or "",
                    line.leaf_hash,
                ]
            )
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=audit-trail.csv"},
    )


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start : start + size]


@bp.post("/verify")
@roles_required(Role.SUPERVISOR)
def verify():
    report = dbverify.verify_database(db.session)
    log.record(
        db.session,
        current_user,
        "audit.verified",
        None,
        {"ok": report.ok, "size": report.entries, "problem": report.problem},
        client_ip(),
    )
    db.session.commit()
    if report.ok:
        flash(
            _("The log verifies: %(n)s entries, every checkpoint signed and consistent.", n=report.entries),
            "success",
        )
    else:
        flash(_("The log does NOT verify: %(problem)s", problem=report.problem), "error")
    return redirect(url_for("audit.index"))
