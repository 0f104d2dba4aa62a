"""``flask --app wsgi calendar import FILE``: load the State Council's holiday arrangement.

CSV lines ``2026-10-01,holiday,国庆节`` or ``2026-09-27,workday,国庆调休``; importing again replaces a day.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import click
from flask.cli import AppGroup

import audit
from bidding.models import CalendarDay
from core.db import db

calendar_cli = AppGroup("calendar", help="The holiday calendar (working days, 调休).")


@calendar_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_days(path: Path) -> None:
    rows = []
    with path.open(encoding="utf-8") as f:
        for number, row in enumerate(csv.reader(f), start=1):
            if not row or row[0].startswith("#"):
                continue
            try:
                day, kind = date.fromisoformat(row[0].strip()), row[1].strip()
            except (ValueError, IndexError) as exc:
                raise click.ClickException(f"line {number}: expected DATE,holiday|workday[,NAME]") from exc
            if kind not in ("holiday", "workday"):
                raise click.ClickException(f"line {number}: kind must be holiday or workday")
            rows.append(CalendarDay(day=day, kind=kind, name=(row[2].strip() if len(row) > 2 else "")[:100]))
    for day_row in rows:
        db.session.merge(day_row)
    audit.record(
        db.session,
        None,
        "bidding.calendar_imported",
        None,
        {"days": len(rows), "from": min(r.day for r in rows).isoformat() if rows else None},
        "cli",
    )
    db.session.commit()
    click.echo(f"{len(rows)} calendar days imported")
