"""``flask --app wsgi calendar import FILE``: load a holiday arrangement (one year's, or days to correct);
``flask --app wsgi official-data load``: load the shipped official calendars and rates (idempotent).

CSV lines ``2026-10-01,holiday,国庆节`` or ``2026-09-20,workday,国庆节调休上班``; importing again replaces a
day. A file whose header says ``# year: 2027``, ``# status: official`` and ``# source: ...`` also marks that
year as covered (bidding/official_data.py).
"""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import AppGroup

import audit
from bidding import official_data
from core.db import db

calendar_cli = AppGroup("calendar", help="The holiday calendar (working days, 调休).")
official_cli = AppGroup("official-data", help="Official calendars and benchmark rates shipped with SunBid.")


@calendar_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_days(path: Path) -> None:
    try:
        with path.open(encoding="utf-8") as f:
            calendar = official_data.read_calendar(f)
    except official_data.DataFileError as exc:
        raise click.ClickException(str(exc)) from exc
    report = official_data.LoadReport()
    official_data.merge_calendar(db.session, calendar, report)
    db.session.flush()
    audit.record(
        db.session,
        None,
        "bidding.calendar_imported",
        None,
        {
            "days": len(calendar.days),
            "from": min(d for d, _k, _n in calendar.days).isoformat() if calendar.days else None,
            "covers_year": calendar.year if calendar.official else None,
        },
        "cli",
    )
    db.session.commit()
    click.echo(f"{len(calendar.days)} calendar days imported")
    if calendar.official:
        click.echo(f"{calendar.year} is covered ({calendar.source})")


@official_cli.command("load")
def load_official() -> None:
    """Load the State Council holiday arrangements and the PBC benchmark rates (run again: no change)."""
    report = official_data.load(db.session)
    db.session.commit()
    click.echo(
        f"calendar years covered: {', '.join(map(str, report.covered)) or 'none'}; "
        f"{report.days_changed} days and {report.rates_changed} rates changed"
    )
    if report.not_published:
        click.echo(
            f"not covered (no official arrangement shipped): {', '.join(map(str, report.not_published))}"
        )
