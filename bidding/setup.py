"""Wiring of bidding into the app."""

from __future__ import annotations

from flask import Flask
from flask_login import current_user
from sqlalchemy import func, select

from audit import describe
from audit.archive import register_parts
from bidding import (  # noqa: F401  (labels registers words)
    admin,
    api,
    archive_parts,
    bank_api,
    bank_views,
    bids,
    bidtool_views,
    calendar_cli,
    hall_views,
    integrity,
    labels,
    ledger_cli,
    ledger_view,
    ledger_views,
    notice_views,
    notices_api,
    periods,
    tasks,
    todos,
    trail,
    views,
    workbench_views,
)
from bidding.lifecycle import phase
from bidding.models import Bid, CustodianShare, Deposit, Objection, Opening, Tender
from bidding.permissions import assigned_tenders
from core import clock, paging, todo
from core.db import db
from core.extensions import csrf
from core.roles import Role
from core.web import register_panel, register_rules

PANEL_PER_PAGE = 10


def init_app(app: Flask) -> None:
    app.register_blueprint(api.bp)
    app.register_blueprint(notices_api.bp)
    app.register_blueprint(notice_views.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(hall_views.bp)
    # First of all before-request steps: a hall poll answered from memory needs none of the others
    # (user, session row, sandbox clock), see bidding.hall_views.
    app.before_request_funcs.setdefault(None, []).insert(0, hall_views.answer_from_memory)
    from bidding import receipt_views

    app.register_blueprint(receipt_views.bp)
    app.register_blueprint(ledger_views.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(bank_views.bp)
    app.register_blueprint(workbench_views.bp)
    app.register_blueprint(bidtool_views.bp)
    app.register_blueprint(bank_api.bp)
    # The admin blueprint mixes pages and two API routes: those are exempt like every /api blueprint is
    # (core.app), since the API authenticates by bearer token only.
    csrf.exempt(admin.put_calendar_day)
    csrf.exempt(admin.put_rate)

    register_rules(app, 10, periods.rules)
    from bidding import steps

    steps.register(app, steps.bidding_steps)
    register_rules(app, 20, ledger_view.rules)
    register_panel(app, "agency", _agency_panel)
    register_panel(app, "tenderer", _tenderer_panel)
    register_panel(app, "supervisor", _supervisor_panel)
    register_panel(app, "notary", _custodian_panel)
    register_panel(app, "admin", bank_views._admin_panel)
    todo.register(app, Role.TENDERER, todos.tenderer)
    todo.register(app, Role.AGENCY, todos.agency)
    todo.register(app, Role.SUPERVISOR, todos.supervisor)
    for role in (Role.AGENCY, Role.SUPERVISOR, Role.NOTARY):
        todo.register(app, role, todos.custodian)

    app.extensions.setdefault("sunbid.file_refs", []).append(lambda: bids.referenced_files(db.session))
    app.extensions["sunbid.file_refs"].append(lambda: _guarantee_files(db.session))

    register_parts(app, archive_parts.members)  # the tender archive (R-R2)

    # `flask storage verify` and its beat job report bid parts and documents by tender and bid.
    app.extensions.setdefault("sunbid.file_owners", []).append(lambda: integrity.file_owners(db.session))
    app.extensions["celery"].conf.beat_schedule["bidding-verify-store"] = {
        "task": tasks.verify_store.name,
        "schedule": 86400.0,
    }

    # R-T5: the opening starts by itself at the deadline; an opening that leaves nothing to judge closes
    # by itself when its decryption window ends. Every few seconds: the hall shows the start at once.
    app.extensions["celery"].conf.beat_schedule["bidding-run-openings"] = {
        "task": tasks.run_openings.name,
        "schedule": float(app.config.get("OPENING_BEAT_SECONDS", 5.0)),
    }
    app.extensions["celery"].conf.beat_schedule["bidding-pay-refunds"] = {
        "task": tasks.pay_refunds.name,
        "schedule": 600.0,
    }
    app.cli.add_command(calendar_cli.calendar_cli)

    describe.register_tender_finder(app, trail.find)
    describe.register_tender_names(app, trail.codes)
    describe.register_tender_targets(app, trail.targets)
    app.cli.add_command(ledger_cli.ledger_cli)
    app.cli.add_command(calendar_cli.official_cli)


def _guarantee_files(session) -> set[str]:
    """E-guarantee files in the store: kept like bids and documents (the storage clean-up asks)."""
    from sqlalchemy import select

    from bidding.models import Deposit

    return set(session.scalars(select(Deposit.file_sha256).where(Deposit.file_sha256.is_not(None))))


def _agency_panel():
    rows = db.session.scalars(
        select(Tender)
        .where(Tender.id.in_(assigned_tenders(current_user)))
        .order_by(Tender.created_at.desc())
        .limit(10)
    ).all()
    return "bidding/panel_agency.html", {"tenders": rows, "now": clock.now(), "phase": phase}


def _tenderer_panel():
    """My tenders and bids: every lot the organisation paid a deposit for or bid on, newest deadline first."""

    org = current_user.organization_id
    bids = db.session.scalars(
        select(Bid)
        .where(Bid.organization_id == org, Bid.status != "replaced")
        .order_by(Bid.created_at.desc())
    ).all()
    deposits = db.session.scalars(select(Deposit).where(Deposit.organization_id == org)).all()
    keys = {(b.tender_id, b.lot_number) for b in bids} | {(d.tender_id, d.lot_number) for d in deposits}
    rows = []
    for tender_id, lot in keys:
        rows.append(
            {
                "tender": db.session.get(Tender, tender_id),
                "lot": lot,
                "bid": next((b for b in bids if (b.tender_id, b.lot_number) == (tender_id, lot)), None),
                "deposit": next(
                    (d for d in deposits if (d.tender_id, d.lot_number) == (tender_id, lot)), None
                ),
            }
        )
    rows.sort(key=lambda row: row["tender"].bid_deadline, reverse=True)
    page = paging.page_of_list(rows, PANEL_PER_PAGE)
    return "bidding/panel_tenderer.html", {"rows": page.items, "page": page}


def _supervisor_panel():
    """Tenders under supervision: what needs a look first (paused, overdue answers, openings running,
    shares to release), then the latest notices."""

    now = clock.now()
    page = paging.page_of(
        db.session,
        select(Tender)
        .where(Tender.status != "draft", Tender.id.in_(assigned_tenders(current_user)))
        .order_by(Tender.bid_deadline.desc(), Tender.id),
        PANEL_PER_PAGE,
    )
    tenders = page.items
    ids = [t.id for t in tenders]
    pending = dict(
        db.session.execute(
            select(Objection.tender_id, func.count())
            .where(Objection.tender_id.in_(ids), Objection.answered_at.is_(None))
            .group_by(Objection.tender_id)
        ).all()
    )
    overdue = set(
        db.session.scalars(
            select(Objection.tender_id).where(
                Objection.tender_id.in_(ids), Objection.answered_at.is_(None), Objection.answer_due_at < now
            )
        )
    )
    openings = {o.tender_id: o for o in db.session.scalars(select(Opening).where(Opening.tender_id.in_(ids)))}
    shares = {
        s.tender_id: s
        for s in db.session.scalars(
            select(CustodianShare).where(
                CustodianShare.tender_id.in_(ids), CustodianShare.custodian_id == current_user.id
            )
        )
    }
    rows = []
    for t in tenders:
        opening = openings.get(t.id)
        share = shares.get(t.id)
        rows.append(
            {
                "tender": t,
                "phase": phase(t, now),
                "objections": pending.get(t.id, 0),
                "overdue": t.id in overdue,
                "opening": opening.status if opening else None,
                "share_due": share is not None
                and share.released_at is None
                and opening is not None
                and opening.status == "decrypting",
            }
        )
    return "bidding/panel_supervisor.html", {"rows": rows, "page": page}


def _custodian_panel():
    """A notary's desk: the opening-key shares it holds, and which ones the opening now needs."""
    now = clock.now()
    rows = []
    for share, tender in db.session.execute(
        select(CustodianShare, Tender)
        .join(Tender, Tender.id == CustodianShare.tender_id)
        .where(CustodianShare.custodian_id == current_user.id)
        .order_by(Tender.bid_deadline.desc())
        .limit(50)
    ).all():
        opening = db.session.get(Opening, tender.id)
        rows.append(
            {
                "tender": tender,
                "share": share,
                "deadline_passed": now >= tender.bid_deadline,
                "release_due": share.released_at is None
                and opening is not None
                and opening.status == "decrypting",
            }
        )
    return "bidding/panel_notary.html", {"rows": rows}
