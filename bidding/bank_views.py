"""Deposit pages (保证金代收代退): the finance staff's deposit account (statement import, each line's outcome,
unmatched money, refund batches) and the tenderer's payment details on the tender page (bidding/bank.py)."""

from __future__ import annotations

import uuid
from math import ceil

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import func, select

from bidding import bank, ledger, services
from bidding.forms import BasicAccountForm, DepositReferenceForm, GuaranteeForm, StatementForm
from bidding.models import BankStatement, Deposit, RefundBatch, Tender
from core import clock
from core import labels as words
from core.auth import roles_required
from core.db import db
from core.errors import DomainError, NotFound
from core.extensions import client_ip
from core.roles import Role
from core.uow import attempt, rollback_for

bp = Blueprint("bank", __name__)

LINES_PER_PAGE = 200


def labels() -> dict:
    """What each outcome, reason and state means, in words (bidding/labels.py decides them; the codes
    are the API's)."""
    known = words.kinds()
    return {
        "outcomes": known["bank_transactions.outcome"],
        "details": known["bank_transactions.detail"],
        "states": known["deposit_references.state"],
    }


# -- the finance staff's pages ----------------------------------------------------------------------------


def _overview(form: StatementForm, refusal: DomainError | None = None, status: int = 200):
    balances = ledger.balances(db.session, [ledger.ESCROW, ledger.SUSPENSE])
    held = db.session.execute(
        select(func.count(), func.coalesce(func.sum(Deposit.amount_fen), 0)).where(
            Deposit.status == "held", Deposit.kind == "money"
        )
    ).one()
    deposits_due, returns_due = bank.pending_refunds(db.session)
    return render_template(
        "bidding/finance.html",
        account=bank.deposit_account(),
        form=form,
        refusal=refusal,
        escrow_fen=balances.get(ledger.ESCROW, 0),
        suspense_fen=-balances.get(ledger.SUSPENSE, 0),
        held_count=held[0],
        held_fen=held[1],
        balanced=ledger.trial_balance(db.session) == 0,
        statements=db.session.scalars(
            select(BankStatement).order_by(BankStatement.imported_at.desc()).limit(10)
        ).all(),
        unmatched=bank.unmatched(db.session)[:100],
        deposits_due=deposits_due,
        returns_due=returns_due,
        batches=db.session.scalars(
            select(RefundBatch).order_by(RefundBatch.created_at.desc()).limit(10)
        ).all(),
        **labels(),
    ), status


@bp.get("/finance/deposits")
@roles_required(Role.ADMIN)
def finance():
    return _overview(StatementForm())


@bp.route("/finance/statements", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def import_statement():
    if request.method == "GET":  # e.g. the language switch on a refusal: back to the account's page
        return redirect(url_for("bank.finance"))
    form = StatementForm()
    if not form.validate_on_submit():
        return _overview(form, status=422)
    upload = form.file.data
    try:
        result = bank.import_statement(
            db.session,
            current_user,
            filename=upload.filename or "statement",
            data=upload.read(),
            ip=client_ip(),
        )
    except DomainError as err:
        rollback_for(err)
        flash(str(err.message or err.code), "error")
        return _overview(form, refusal=err, status=err.status)
    db.session.commit()
    flash(
        _(
            "Statement imported: %(lines)s lines, %(matched)s deposits now held. Each line's outcome "
            "is below.",
            lines=result.statement.lines,
            matched=result.counts.get("matched", 0),
        ),
        "success",
    )
    return redirect(url_for("bank.statement", statement_id=result.statement.id))


@bp.get("/finance/statements/<uuid:statement_id>")
@roles_required(Role.ADMIN)
def statement(statement_id: uuid.UUID):
    row = db.session.get(BankStatement, statement_id)
    if row is None:
        raise NotFound(_l("No such statement."), code="statement_not_found")
    lines = bank.statement_lines(db.session, row)
    pages = max(1, ceil(len(lines) / LINES_PER_PAGE))
    page = min(max(1, request.args.get("page", 1, type=int)), pages)
    shown = lines[(page - 1) * LINES_PER_PAGE : page * LINES_PER_PAGE]
    # Before a tender's bid deadline a deposit does not say whose tender it is (R-B4).
    deposit_ids = [r["deposit_id"] for r in shown if r.get("deposit_id")]
    tenders = {
        deposit_id: (code, deadline)
        for deposit_id, code, deadline in db.session.execute(
            select(Deposit.id, Tender.code, Tender.bid_deadline)
            .join(Tender, Tender.id == Deposit.tender_id)
            .where(Deposit.id.in_(deposit_ids))
        )
        if deadline is not None  # a tender taking deposits has its timeline
    }
    now = clock.now()
    for r in shown:
        known = tenders.get(r["deposit_id"]) if r.get("deposit_id") else None
        r["tender"] = known[0] if known and now >= known[1] else None
        r["sealed"] = known is not None and now < known[1]
    return render_template(
        "bidding/finance_statement.html", statement=row, lines=shown, page=page, pages=pages, **labels()
    )


@bp.post("/finance/refund-batches")
@roles_required(Role.ADMIN)
def create_refund_batch():
    created = []
    if attempt(
        lambda: created.append(bank.create_refund_batch(db.session, current_user, client_ip())),
        _("Refund batch created: download its payment file for the bank."),
    ):
        return redirect(url_for("bank.refund_batch", batch_id=created[0].id))
    return redirect(url_for("bank.finance"))


@bp.get("/finance/refund-batches/<uuid:batch_id>")
@roles_required(Role.ADMIN)
def refund_batch(batch_id: uuid.UUID):
    return render_template("bidding/finance_batch.html", batch=bank.refund_batch(db.session, batch_id))


@bp.post("/finance/refund-lines/<uuid:line_id>/cancel")
@roles_required(Role.ADMIN)
def cancel_refund_line(line_id: uuid.UUID):
    lines = []
    attempt(
        lambda: lines.append(bank.cancel_refund_line(db.session, current_user, line_id, client_ip())),
        _("Cancelled: the payment goes into the next refund batch."),
    )
    if lines:
        return redirect(url_for("bank.refund_batch", batch_id=lines[0].batch_id))
    return redirect(url_for("bank.finance"))


@bp.get("/finance/refund-batches/<uuid:batch_id>/file")
@roles_required(Role.ADMIN)
def refund_batch_file(batch_id: uuid.UUID):
    from bidding.bank_api import batch_download

    return batch_download(bank.refund_batch(db.session, batch_id))


# -- the tenderer's payment details ---------------------------------------------------------------------


def tenderer_context(actor, tender: Tender) -> dict:
    """What the tender page shows a tenderer about its deposit: called by views.notice."""
    if actor is None or actor.role != Role.TENDERER or tender.status == "draft":
        return {"deposit_payments": None}
    now = clock.now()
    open_ = tender.status == "published" and now < tender.time_of("bid_deadline")
    return {
        "deposit_payments": bank.payment_status(db.session, actor.organization_id, tender),
        "deposit_account": bank.deposit_account(),
        "deposit_open": open_,
        "basic_account_form": BasicAccountForm() if open_ else None,
        "reference_form": DepositReferenceForm() if open_ else None,
        "guarantee_form": GuaranteeForm() if open_ else None,
        "deposit_states": labels()["states"],
        "deposit_details": labels()["details"],
    }


def _back(tender_id: uuid.UUID):
    return redirect(url_for("bidding.notice", tender_id=tender_id) + "#deposit")


@bp.post("/tenders/<uuid:tender_id>/deposit/reference")
@roles_required(Role.TENDERER)
def request_reference(tender_id: uuid.UUID):
    tender = services.visible(db.session, current_user, tender_id)
    form = DepositReferenceForm()
    if form.validate_on_submit():
        attempt(
            lambda: bank.issue_reference(db.session, current_user, tender, form.lot.data, client_ip()),
            _("Here are your payment details: transfer the deposit from your basic account."),
        )
    return _back(tender_id)


@bp.post("/tenders/<uuid:tender_id>/deposit/basic-account")
@roles_required(Role.TENDERER)
def basic_account(tender_id: uuid.UUID):
    form = BasicAccountForm()
    if form.validate_on_submit():
        attempt(
            lambda: bank.set_basic_account(
                db.session, current_user, form.bank.data, form.account_no.data, client_ip()
            ),
            _("Your basic account is registered."),
        )
    return _back(tender_id)


@bp.post("/tenders/<uuid:tender_id>/deposit/guarantee")
@roles_required(Role.TENDERER)
def file_guarantee(tender_id: uuid.UUID):
    from bidding.calendar import SHANGHAI
    from core.storage import file_store

    tender = services.visible(db.session, current_user, tender_id)
    form = GuaranteeForm()
    if not form.validate_on_submit():
        for name, errors in form.errors.items():
            flash(f"{getattr(form, name).label.text}: {'; '.join(map(str, errors))}", "error")
        return _back(tender_id)
    stored = file_store().put_stream(form.file.data.stream, max_size=20 * 1024 * 1024)
    attempt(
        lambda: ledger.record_guarantee(
            db.session,
            current_user,
            tender,
            lot_number=form.lot.data,
            amount_fen=form.amount.fen or 0,
            insurer=form.insurer.data,
            policy_number=form.policy_number.data,
            verification_ref=form.verification_ref.data,
            valid_until=form.valid_until.data.replace(tzinfo=SHANGHAI),
            file_sha256=stored.sha256,
            ip=client_ip(),
        ),
        _("Your e-guarantee is filed."),
    )
    return _back(tender_id)


def _admin_panel():
    """The administrator's dashboard: what waits in the deposit account."""
    deposits_due, returns_due = bank.pending_refunds(db.session)
    return "bidding/panel_finance.html", {
        "unmatched": len(bank.unmatched(db.session)),
        "refunds_due": len(deposits_due) + len(returns_due),
        "configured": bank.deposit_account() is not None,
    }
