"""Audit log API: entries for supervisors, checkpoints and proofs for anyone who checks."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from audit import cosign, log, proofs, seals
from audit.models import AuditEntry
from audit.queries import entries_query, parse_time
from audit.schemas import (
    CheckpointOut,
    ConsistencyQuery,
    EntriesQuery,
    EntryProofQuery,
    InclusionQuery,
    LogProofOut,
    ProofOut,
)
from core.api import paginate
from core.auth import login_required, roles_required
from core.db import db
from core.errors import Forbidden, NotFound
from core.openapi import api_doc
from core.roles import Role
from core.schemas import Out, PageOut

bp = Blueprint("audit_api", __name__, url_prefix="/api/v1/audit")


@bp.get("/entries")
@roles_required(Role.SUPERVISOR)
@api_doc(query=EntriesQuery, responses={200: PageOut})
def entries(query: EntriesQuery):
    """List log entries (supervisor).

    Filters: actor (user id), action (prefix), target_type, target_id, from, to (ISO 8601).
    """
    rows = entries_query(
        actor_id=query.actor,
        action=query.action,
        target_type=query.target_type,
        target_id=query.target_id,
        since=parse_time(query.since, "from"),
        until=parse_time(query.until, "to"),
    )
    return jsonify(paginate(db.session, rows, log.entry_json, page=query))


@bp.get("/entries/<int:index>")
@login_required
@api_doc(responses={200: Out})
def entry(index: int):
    """One entry: for supervisors once readable, and always for its own actor and organisation.

    A sealed entry (R-B4, R-E4) carries ``sealed``: the content whose SHA-256 its leaf commits to.
    """
    row = db.session.get(AuditEntry, index) if 0 <= index < 2**62 else None
    supervisor = current_user.role == Role.SUPERVISOR
    if row is None or not (
        (supervisor and seals.may_read(db.session, row, None)) or seals.is_own(row, current_user)
    ):
        raise NotFound(_l("No such entry."), code="entry_not_found")
    return jsonify(log.entry_json(row))


@bp.get("/checkpoint")
@api_doc(public=True, responses={200: CheckpointOut})
def checkpoint():
    """The latest signed checkpoint (C2SP signed note), the latest one cosigned by the witness, and the
    keys to check them: the log's verifier key and the witness's cosignature key."""
    size, head = log.current_checkpoint(db.session)
    cosigned = cosign.publish_quietly(db.session)
    return jsonify(
        {
            "size": size,
            "checkpoint": head,
            "verifier_key": log.verifier().key_string(),
            "cosigned": {"size": cosigned.size, "checkpoint": cosigned.note} if cosigned else None,
            "witness_keys": [w.key_string() for w in cosign.witness_verifiers()],
        }
    )


@bp.get("/proofs/entry")
@login_required
@api_doc(query=EntryProofQuery, responses={200: LogProofOut})
def entry_proof(query: EntryProofQuery):
    """The log proof of one entry (crypto.logproof): its leaf, the smallest cosigned checkpoint that
    includes it and the inclusion proof; a sealed entry's content too for its own actor. For supervisors
    and the entry's own actor and organisation; ``proof`` is null until the witness has cosigned."""
    row = db.session.get(AuditEntry, query.index) if query.index < 2**62 else None
    supervisor = current_user.role == Role.SUPERVISOR
    own = row is not None and seals.is_own(row, current_user)
    if row is None or not ((supervisor and seals.may_read(db.session, row, None)) or own):
        raise NotFound(_l("No such entry."), code="entry_not_found")
    return jsonify({"index": query.index, "proof": proofs.for_entry(db.session, query.index, disclose=own)})


@bp.get("/proofs/inclusion")
@login_required
@api_doc(query=InclusionQuery, responses={200: ProofOut})
def inclusion(query: InclusionQuery):
    """Inclusion proof of leaf `index` in the tree of `size` (supervisor, or the entry's actor)."""
    index, size = query.index, query.size
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
@api_doc(public=True, query=ConsistencyQuery, responses={200: ProofOut})
def consistency(query: ConsistencyQuery):
    """Consistency proof between tree sizes `from` and `to`."""
    old, new = query.old, query.new
    proof = log.consistency_proof(db.session, old, new)
    return jsonify({"from": old, "to": new, "proof": [log.b64(h) for h in proof]})
