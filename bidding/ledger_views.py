"""Pages of the deposit ledger (R-D3): a tender's entries and trial balance for its agency and the
supervisors, and a tenderer's statement of its deposits with refunds and interest."""

from __future__ import annotations

import uuid

from flask import Blueprint, render_template
from flask_babel import gettext as _
from flask_login import current_user

from bidding import ledger_charts, ledger_view
from core import clock
from core.auth import roles_required
from core.db import db
from core.roles import Role

bp = Blueprint("ledger", __name__)


def _balance_words() -> dict[str, str]:
    return {
        "title": _("Trial balance: debits and credits"),
        "debits": _("Debits"),
        "credits": _("Credits"),
        "escrow": _("Escrow account"),
        "owed": _("Owed to tenderers"),
        "interest": _("Interest paid"),
        "late": _("Late-refund charges"),
        "forfeited": _("Forfeited"),
        "other": _("Other accounts"),
    }


@bp.get("/tenders/<uuid:tender_id>/ledger")
@roles_required(Role.AGENCY, Role.SUPERVISOR)
def tender_ledger(tender_id: uuid.UUID):
    tender, sealed = ledger_view.ledger_tender(db.session, current_user, tender_id)
    entries, balance = ([], None) if sealed else ledger_view.tender_ledger(db.session, tender)
    now = clock.now()
    return render_template(
        "bidding/ledger.html",
        tender=tender,
        sealed=sealed,
        entries=entries,
        balance=balance,
        balance_svg=ledger_charts.balance(balance, _balance_words()) if balance and balance.rows else "",
        escrow_svg=ledger_charts.escrow(entries, now, _("Money held in escrow")) if entries else "",
    )


@bp.get("/deposits/statement")
@roles_required(Role.TENDERER)
def statement():
    now = clock.now()
    rows = ledger_view.statement(db.session, current_user.organization_id, now)
    return render_template(
        "bidding/statement.html",
        rows=rows,
        now=now,
        held_fen=sum(r.deposit.amount_fen for r in rows if not r.settled and r.deposit.kind == "money"),
        interest_fen=sum(r.interest_fen for r in rows),
        returned_fen=sum(r.returned_fen or 0 for r in rows),
        chart=ledger_charts.holdings(
            rows, now, {"title": _("Your deposits over time"), "days": _("%(n)s days")}
        ),
    )
