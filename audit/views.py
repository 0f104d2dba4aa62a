"""The supervisor's audit page: filter the log, see the latest checkpoint, verify the whole log."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from audit import dbverify, log
from audit.queries import entries_query, parse_time
from core.auth import roles_required
from core.db import db
from core.errors import DomainError
from core.extensions import client_ip
from core.roles import Role

bp = Blueprint("audit", __name__, url_prefix="/audit")

PER_PAGE = 50


@bp.get("/")
@roles_required(Role.SUPERVISOR)
def index():
    from accounts.models import User

    args = request.args
    actor = None
    error = None
    try:
        if args.get("actor"):
            actor = db.session.scalar(select(User).where(User.username == args["actor"].strip()))
            if actor is None:
                error = _("No user named %(name)s.", name=args["actor"])
        query = entries_query(
            actor_id=actor.id if actor else None,
            action=args.get("action") or None,
            target_id=args.get("target") or None,  # e.g. a tender's trail, from the supervisor's dashboard
            since=parse_time(args.get("from"), "from"),
            until=parse_time(args.get("to"), "to"),
        )
    except DomainError as exc:
        error, query = str(exc.message), entries_query()
    page = max(1, request.args.get("page", 1, type=int))
    rows = [] if error else db.session.scalars(query.limit(PER_PAGE + 1).offset((page - 1) * PER_PAGE)).all()
    size, checkpoint = log.current_checkpoint(db.session)
    actor_ids = {e.actor_id for e in rows if e.actor_id}
    names = {}
    if actor_ids:
        query = select(User.id, User.username).where(User.id.in_(actor_ids))
        names = {user_id: username for user_id, username in db.session.execute(query)}
    return render_template(
        "audit/index.html",
        names=names,
        entries=rows[:PER_PAGE],
        has_next=len(rows) > PER_PAGE,
        page=page,
        size=size,
        checkpoint=checkpoint,
        error=error,
        verifier_key=log.verifier().key_string(),
    )


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
