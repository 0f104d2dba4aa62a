"""Audit log API: entries for supervisors, checkpoints and proofs for anyone who checks."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from audit import log, seals
from audit.models import AuditEntry
from audit.queries import entries_query, parse_time
from core.api import paginate
from core.auth import login_required, roles_required
from core.db import db
from core.errors import Forbidden, Invalid, NotFound
from core.openapi import api_doc
from core.roles import Role

bp = Blueprint("audit_api", __name__, url_prefix="/api/v1/audit")


def _int_arg(name: str) -> int:
    try:
        return int(request.args[name])
    except (KeyError, ValueError) as exc:
        raise Invalid(
            _l("Give %(name)s as an integer.", name=name),
            code="invalid_parameter",
            details={"parameter": name},
        ) from exc


@bp.get("/entries")
@roles_required(Role.SUPERVISOR)
def entries():
    """List log entries (supervisor).

    Filters: actor (user id), action (prefix), target_type, target_id, from, to (ISO 8601).
    """
    query = entries_query(
        actor_id=log.actor_uuid(request.args.get("actor")),
        action=request.args.get("action"),
        target_type=request.args.get("target_type"),
        target_id=request.args.get("target_id"),
        since=parse_time(request.args.get("from"), "from"),
        until=parse_time(request.args.get("to"), "to"),
    )
    return jsonify(paginate(db.session, query, log.entry_json))


@bp.get("/entries/<int:index>")
@login_required
def entry(index: int):
    """One entry: for supervisors once readable, and always for its own actor and organisation.

    A sealed entry (R-B4, R-E4) carries ``sealed``: the content whose SHA-256 its leaf commits to.
    """
    row = db.session.get(AuditEntry, index)
    supervisor = current_user.role == Role.SUPERVISOR
    if row is None or not (
        (supervisor and seals.may_read(db.session, row, None)) or seals.is_own(row, current_user)
    ):
        raise NotFound(_l("No such entry."), code="entry_not_found")
    return jsonify(log.entry_json(row))


@bp.get("/checkpoint")
@api_doc(public=True)
def checkpoint():
    """The latest signed checkpoint (C2SP signed note) and the log's verifier key."""
    size, checkpoint = log.current_checkpoint(db.session)
    return jsonify({"size": size, "checkpoint": checkpoint, "verifier_key": log.verifier().key_string()})


@bp.get("/proofs/inclusion")
@login_required
def inclusion():
    """Inclusion proof of leaf `index` in the tree of `size` (supervisor, or the entry's actor)."""
    index, size = _int_arg("index"), _int_arg("size")
    entry = db.session.get(AuditEntry, index)
    if entry is None:
        raise NotFound(_l("No such entry."), code="entry_not_found")
    if current_user.role != Role.SUPERVISOR and entry.actor_id != current_user.id:
        raise Forbidden(
            _l("Only supervisors and the entry's actor may ask for this proof."), code="proof_forbidden"
        )
    proof = log.inclusion_proof(db.session, index, size)
    return jsonify(
        {
            "index": index,
            "size": size,
            "leaf_hash": log.b64(entry.leaf_hash),
            "proof": [log.b64(h) for h in proof],
        }
    )


@bp.get("/proofs/consistency")
@api_doc(public=True)
def consistency():
    """Consistency proof between tree sizes `from` and `to`."""
    old, new = _int_arg("from"), _int_arg("to")
    proof = log.consistency_proof(db.session, old, new)
    return jsonify({"from": old, "to": new, "proof": [log.b64(h) for h in proof]})
