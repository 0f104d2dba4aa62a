"""API for the centre's finance staff (administrators): statement import, unmatched money, refund batches
(bidding/bank.py). The pages in bank_views.py call the same services."""

from __future__ import annotations

import uuid

from flask import Blueprint, Response, jsonify, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from pydantic import Field
from sqlalchemy import select

from bidding import bank
from bidding.models import BankStatement, RefundBatch
from bidding.serializers import money
from core.auth import roles_required
from core.db import db
from core.errors import NotFound
from core.extensions import client_ip
from core.openapi import Raw, Upload, api_doc
from core.roles import Role
from core.schemas import ItemsOut, Out, Query, Text

bp = Blueprint("bank_api", __name__, url_prefix="/api/v1/bank")


class StatementQuery(Query):
    filename: Text[200] = Field("statement", description="the statement file's name, as the bank gave it")


def statement_json(statement: BankStatement, *, lines: bool = False) -> dict:
    body = {
        "id": str(statement.id),
        "filename": statement.filename,
        "format": statement.format,
        "sha256": statement.sha256,
        "account_no": statement.account_no,
        "lines": statement.lines,
        "counts": statement.counts,
        "imported_at": statement.imported_at.isoformat(),
    }
    if lines:
        body["outcomes"] = [
            {
                "line": row["line"],
                "bank_ref": row["bank_ref"],
                "outcome": row["outcome"],
                "detail": row["detail"],
                "amount": money(row["amount_fen"]) if row["amount_fen"] is not None else None,
                "deposit": str(row["deposit_id"]) if row.get("deposit_id") else None,
            }
            for row in bank.statement_lines(db.session, statement)
        ]
    return body


def transaction_json(tx) -> dict:
    return {
        "id": str(tx.id),
        "line": tx.line,
        "bank_ref": tx.bank_ref,
        "booked_at": tx.booked_at.isoformat(),
        "amount": money(tx.amount_fen),
        "counterparty": {
            "account": tx.counterparty_account,
            "name": tx.counterparty_name,
            "bank": tx.counterparty_bank,
        },
        "memo": tx.memo,
        "outcome": tx.outcome,
        "detail": tx.detail,
    }


def batch_json(batch: RefundBatch) -> dict:
    return {
        "id": str(batch.id),
        "number": batch.number,
        "created_at": batch.created_at.isoformat(),
        "total": money(batch.total_fen),
        "lines": [
            {
                "position": line.position,
                "reference": line.reference,
                "kind": "refund" if line.deposit_id else "return",
                "deposit": str(line.deposit_id) if line.deposit_id else None,
                "payee": {"account": line.payee_account, "name": line.payee_name, "bank": line.payee_bank},
                "amount": money(line.amount_fen),
                "interest": money(line.interest_fen),
                "late_charge": money(line.late_charge_fen),
                "paid_at": line.paid_at.isoformat() if line.paid_at else None,
                "cancelled_at": line.cancelled_at.isoformat() if line.cancelled_at else None,
            }
            for line in batch.lines
        ],
    }


@bp.post("/statements")
@roles_required(Role.ADMIN)
@api_doc(
    upload=Upload(None, raw=True),
    query=StatementQuery,
    responses={201: Out},
    tags=["bank"],
)
def import_statement(query: StatementQuery):
    """Import a statement of the deposit account: the file as the raw body (CSV as the bank exports it,
    or camt.053 XML), its name in `?filename=`. All or nothing; every line's outcome is in the answer."""
    data = request.get_data(cache=False)
    result = bank.import_statement(
        db.session,
        current_user,
        filename=query.filename,
        data=data,
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify(statement_json(result.statement, lines=True)), 201


@bp.get("/statements")
@roles_required(Role.ADMIN)
@api_doc(responses={200: ItemsOut}, tags=["bank"])
def list_statements():
    """Imported statements, newest first."""
    rows = db.session.scalars(select(BankStatement).order_by(BankStatement.imported_at.desc()).limit(200))
    return jsonify({"items": [statement_json(s) for s in rows]})


@bp.get("/statements/<uuid:statement_id>")
@roles_required(Role.ADMIN)
@api_doc(responses={200: Out}, tags=["bank"])
def get_statement(statement_id: uuid.UUID):
    """One import with every line's outcome, in file order."""
    statement = db.session.get(BankStatement, statement_id)
    if statement is None:
        raise NotFound(_l("No such statement."), code="statement_not_found")
    return jsonify(statement_json(statement, lines=True))


@bp.get("/unmatched")
@roles_required(Role.ADMIN)
@api_doc(responses={200: ItemsOut}, tags=["bank"])
def list_unmatched():
    """Money the statements show that matches no deposit, not returned yet (in suspense)."""
    return jsonify({"items": [transaction_json(tx) for tx in bank.unmatched(db.session)]})


@bp.post("/refund-batches")
@roles_required(Role.ADMIN)
@api_doc(responses={201: Out}, tags=["bank"])
def create_refund_batch():
    """Put every refund due (R-D2..R-D4, with interest and late charge) and every unmatched payment to
    return into one payment batch for the bank."""
    batch = bank.create_refund_batch(db.session, current_user, client_ip())
    db.session.commit()
    return jsonify(batch_json(batch)), 201


@bp.get("/refund-batches/<uuid:batch_id>")
@roles_required(Role.ADMIN)
@api_doc(responses={200: Out}, tags=["bank"])
def get_refund_batch(batch_id: uuid.UUID):
    """A refund batch and which of its lines a statement has shown paid."""
    return jsonify(batch_json(bank.refund_batch(db.session, batch_id)))


@bp.post("/refund-lines/<uuid:line_id>/cancel")
@roles_required(Role.ADMIN)
@api_doc(responses={200: Out}, tags=["bank"])
def cancel_refund_line(line_id: uuid.UUID):
    """The bank did not pay this line: cancel it, and the refund or return goes into the next batch."""
    line = bank.cancel_refund_line(db.session, current_user, line_id, client_ip())
    db.session.commit()
    return jsonify(batch_json(line.batch))


@bp.get("/refund-batches/<uuid:batch_id>/file")
@roles_required(Role.ADMIN)
@api_doc(responses={200: Raw("text/csv", "the payment file for the bank")}, tags=["bank"])
def refund_batch_file(batch_id: uuid.UUID):
    """The batch's payment file for the bank (CSV, UTF-8): upload it to the bank's batch transfer."""
    return batch_download(bank.refund_batch(db.session, batch_id))


def batch_download(batch: RefundBatch) -> Response:
    """The payment file as a download (the page offers the same)."""
    return Response(
        bank.batch_file(batch),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{batch.number}.csv"'},
    )
