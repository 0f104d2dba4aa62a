"""Admin pages and API for the holiday calendar (R-T6) and the interest-rate table (R-D3, R-D4)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

import audit
from bidding import official_data
from bidding.models import CalendarDay, InterestRate
from bidding.schemas import CalendarDayBody, RateBody
from core import clock
from core.auth import roles_required
from core.db import db
from core.errors import DomainError, Invalid
from core.extensions import client_ip
from core.openapi import api_doc
from core.roles import Role
from core.schemas import ItemsOut, Out
from core.uow import flash_error

bp = Blueprint("bidding_admin", __name__)


def _day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise Invalid(_l("Dates are YYYY-MM-DD."), code="invalid_date", details={"field": field}) from exc


def set_calendar_day(day: date, kind: str, name: str) -> None:
    if kind not in ("holiday", "workday", "normal"):
        raise Invalid(_l("A day is a holiday, a working day, or normal."), code="invalid_kind")
    row = db.session.get(CalendarDay, day)
    if kind == "normal":
        if row is not None:
            db.session.delete(row)
    elif row is None:
        db.session.add(CalendarDay(day=day, kind=kind, name=name[:100]))
    else:
        row.kind, row.name = kind, name[:100]
    audit.record(
        db.session,
        current_user,
        "bidding.calendar_day_set",
        ("calendar_days", day.isoformat()),
        {"kind": kind, "name": name[:100]},
        client_ip(),
    )


def set_rate(kind: str, effective_from: date, annual_bps: int) -> None:
    if kind not in ("deposit", "lending"):
        raise Invalid(_l("The rate is the deposit rate or the lending rate."), code="invalid_kind")
    if not isinstance(annual_bps, int) or isinstance(annual_bps, bool) or not 0 <= annual_bps <= 5000:
        raise Invalid(_l("Rates are whole basis points between 0 and 5000."), code="invalid_rate")
    db.session.merge(InterestRate(kind=kind, effective_from=effective_from, annual_bps=annual_bps))
    audit.record(
        db.session,
        current_user,
        "bidding.interest_rate_set",
        ("interest_rates", f"{kind}:{effective_from}"),
        {"kind": kind, "effective_from": effective_from.isoformat(), "annual_bps": annual_bps},
        client_ip(),
    )


@bp.route("/admin/calendar", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def calendar_page():
    if request.method == "POST":
        try:
            if request.form.get("form") == "official":
                official_data.load(db.session, current_user, client_ip())
            elif request.form.get("form") == "rate":
                set_rate(
                    request.form.get("kind", ""),
                    _day(request.form.get("effective_from", ""), "effective_from"),
                    int(request.form.get("annual_bps") or -1),
                )
            else:
                set_calendar_day(
                    _day(request.form.get("day", ""), "day"),
                    request.form.get("kind", ""),
                    request.form.get("name", ""),
                )
        except DomainError as err:
            flash_error(err)
        except ValueError:
            flash(_("Rates are whole basis points between 0 and 5000."), "error")
        else:
            db.session.commit()
            flash(_("Saved."), "success")
        return redirect(url_for("bidding_admin.calendar_page"))
    days = db.session.scalars(select(CalendarDay).order_by(CalendarDay.day.desc()).limit(200)).all()
    rates = db.session.scalars(
        select(InterestRate).order_by(InterestRate.kind, InterestRate.effective_from.desc())
    ).all()
    return render_template("bidding/admin_calendar.html", days=days, rates=rates, coverage=_coverage())


def _coverage() -> list[dict]:
    """Each loaded year with its source, and this year and the next two when they are missing."""
    loaded = {y.year: y.source for y in official_data.covered_years(db.session)}
    this_year = clock.local(clock.now()).year
    years = sorted(set(loaded) | set(range(this_year, this_year + 3)))
    return [{"year": year, "source": loaded.get(year)} for year in years]


@bp.put("/api/v1/calendar/<day>")
@roles_required(Role.ADMIN)
@api_doc(body=CalendarDayBody, responses={200: Out})
def put_calendar_day(day: str, body: CalendarDayBody):
    """Mark a day as holiday or working day (调休), or back to normal (admin)."""
    set_calendar_day(_day(day, "day"), body.kind, body.name)
    db.session.commit()
    return jsonify({"day": day, "kind": body.kind})


@bp.get("/api/v1/calendar")
@api_doc(public=True, responses={200: ItemsOut})
def get_calendar():
    """The holiday calendar's exceptions (public: everyone counts the same days)."""
    rows = db.session.scalars(select(CalendarDay).order_by(CalendarDay.day)).all()
    return jsonify({"items": [{"day": r.day.isoformat(), "kind": r.kind, "name": r.name} for r in rows]})


@bp.put("/api/v1/interest-rates/<kind>/<effective_from>")
@roles_required(Role.ADMIN)
@api_doc(body=RateBody, responses={200: Out})
def put_rate(kind: str, effective_from: str, body: RateBody):
    """Set the deposit or lending rate (basis points a year) from a date on (admin)."""
    set_rate(kind, _day(effective_from, "effective_from"), body.annual_bps)
    db.session.commit()
    return jsonify({"kind": kind, "effective_from": effective_from, "annual_bps": body.annual_bps})
