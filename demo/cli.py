"""``flask --app wsgi demo ...``: seed the demo cast, print a demo user's current second-factor code."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from accounts import pki, totp
from bidding import official_data
from core.db import db
from core.storage import file_store
from demo import accounts as cast
from demo import experts
from demo import tender as sample

demo_cli = AppGroup("demo", help="Demo data (embedded and sandbox deployments only).")


def _refuse_production() -> None:
    if current_app.config["ENV"] == "production" and not current_app.config["SANDBOX"]:
        raise click.ClickException("demo data is never loaded into production")


@demo_cli.command("seed")
def seed() -> None:
    """Create the demo accounts once (running it again changes nothing)."""
    _refuse_production()

    official_data.load(db.session, ip="demo")  # the holiday calendars and benchmark rates (idempotent)
    created = cast.seed(db.session, current_app.config["DATA_KEY"])
    profiles = experts.seed(db.session)
    pki.ensure_ca(db.session)
    db.session.commit()
    if created:
        click.echo(f"demo: {len(created)} users created; password for all: {cast.PASSWORD}")
    else:
        click.echo("demo: already seeded")
    if profiles:
        click.echo(f"demo: {profiles} expert profiles created")


@demo_cli.command("code")
@click.argument("username")
def code(username: str) -> None:
    """Print the current 6-digit code of a demo user (instead of an authenticator app)."""
    _refuse_production()
    click.echo(totp.code_at(cast.demo_totp_secret(username)))


@demo_cli.command("tender")
def tender() -> None:
    """Run a sample tender on the sandbox clock: publication, bids, opening, signed record."""
    if not current_app.config["SANDBOX"]:
        raise click.ClickException("demo tender moves the platform clock: run it with SUNBID_SANDBOX=1")

    row = sample.run(
        db.session,
        file_store(),
        Path(current_app.config["INSTANCE_PATH"]),
        current_app.config["DATA_KEY"],
        click.echo,
    )
    click.echo(f"done: /tenders/{row.id}  (sign in as agency1, supervisor or tenderer1..3 to see each view)")
