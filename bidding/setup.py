"""Wiring of bidding into the app."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from bidding import (  # noqa: F401  (labels registers words)
        admin,
        api,
        calendar_cli,
        labels,
        ledger_cli,
        ledger_views,
        notice_views,
        notices_api,
        views,
    )
    from core.extensions import csrf
    from core.web import register_panel

    app.register_blueprint(api.bp)
    app.register_blueprint(notices_api.bp)
    app.register_blueprint(notice_views.bp)
    app.register_blueprint(views.bp)
    app.register_blueprint(ledger_views.bp)
    app.register_blueprint(admin.bp)
    # The admin blueprint mixes pages and two API routes: those are exempt like every /api blueprint is
    # (core.app), since the API authenticates by bearer token only.
    csrf.exempt(admin.put_calendar_day)
    csrf.exempt(admin.put_rate)
    from bidding import ledger_view, periods
    from core.web import register_rules

    register_rules(app, 10, periods.rules)
    from bidding import steps

    steps.register(app, steps.bidding_steps)
    register_rules(app, 20, ledger_view.rules)
    register_panel(app, "agency", _agency_panel)
    register_panel(app, "tenderer", _tenderer_panel)
    register_panel(app, "supervisor", _supervisor_panel)
    from bidding import bids, tasks
    from core.db import db

    app.extensions.setdefault("sunbid.file_refs", []).append(lambda: bids.referenced_files(db.session))

    app.extensions["celery"].conf.beat_schedule["bidding-pay-refunds"] = {
        "task": tasks.pay_refunds.name,
        "schedule": 600.0,
    }
    app.cli.add_command(calendar_cli.calendar_cli)
    from audit import describe
    from bidding import trail

    describe.register_tender_finder(app, trail.find)
    describe.register_tender_names(app, trail.codes)
    describe.register_tender_targets(app, trail.targets)
    app.cli.add_command(ledger_cli.ledger_cli)


def _agency_panel():
    from flask_login import current_user
    from sqlalchemy import select

    from bidding.lifecycle import phase
    from bidding.models import Tender
    from bidding.permissions import assigned_tenders
    from core import clock
    from core.db import db

    rows = db.session.scalars(
        select(Tender)
        .where(Tender.id.in_(assigned_tenders(current_user)))
        .order_by(Tender.created_at.desc())
        .limit(10)
    ).all()
    return "bidding/panel_agency.html", {"tenders": rows, "now": clock.now(), "phase": phase}


def _tenderer_panel():
    """My tenders and bids: every lot the organisation paid a deposit for or bid on, newest deadline first."""
    from flask_login import current_user
    from sqlalchemy import select

    from bidding.models import Bid, Deposit, Tender
    from core.db import db

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
    return "bidding/panel_tenderer.html", {"rows": rows}


def _supervisor_panel():
    """Tenders under supervision: what needs a look first (paused, overdue answers, openings running,
    shares to release), then the latest notices."""
    from flask_login import current_user
    from sqlalchemy import func, select

    from bidding.lifecycle import phase
    from bidding.models import CustodianShare, Objection, Opening, Tender
    from core import clock
    from core.db import db

    now = clock.now()
    tenders = db.session.scalars(
        select(Tender).where(Tender.status != "draft").order_by(Tender.bid_deadline.desc()).limit(30)
    ).all()
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
    rows.sort(
        key=lambda r: (
            not (r["overdue"] or r["share_due"] or r["tender"].paused_at or r["opening"] == "decrypting"),
        )
    )
    return "bidding/panel_supervisor.html", {"rows": rows}
