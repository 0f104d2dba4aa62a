"""Command-line groups shared by the platform: database migrations and the outbox.

``flask --app wsgi db upgrade`` migrates; ``sunbid`` is the same CLI as a console script.
"""

from __future__ import annotations

from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from flask.cli import AppGroup, FlaskGroup

from core.notifications import deliver_pending
from core.storage import file_store

ROOT = Path(__file__).resolve().parent.parent

db_cli = AppGroup("db", help="Database schema (Alembic).")
outbox_cli = AppGroup("outbox", help="Notification outbox.")


def alembic_config() -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["app"] = current_app._get_current_object()  # type: ignore[attr-defined]  # the proxied app
    return cfg


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: head)."""

    command.upgrade(alembic_config(), revision)


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
def revision(message: str) -> None:
    """Autogenerate a migration from the models (developers)."""

    command.revision(alembic_config(), message=message, autogenerate=True)


@db_cli.command("current")
def current() -> None:
    command.current(alembic_config())


@outbox_cli.command("deliver")
def deliver() -> None:
    """Send pending outbox messages now."""

    click.echo(f"{deliver_pending()} pending message(s) processed")


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(storage_cli)


def main() -> None:
    from core.app import create_app

    FlaskGroup(create_app=create_app)()


storage_cli = AppGroup("storage", help="The content-addressed file store.")


@storage_cli.command("sweep")
@click.option("--older-than", default=3600, show_default=True, help="grace period in seconds")
def sweep(older_than: int) -> None:
    """Remove crash leftovers and files no row refers to (after a crash or a refused upload)."""
    referenced: set[str] = set()
    for provider in current_app.extensions.get("sunbid.file_refs", []):
        referenced.update(provider())
    removed = file_store().sweep(referenced, older_than=older_than)
    click.echo(f"{len(removed)} unreferenced file(s) removed")


@storage_cli.command("verify")
@click.option("--tender", "tender_code", default=None, help="only this tender's files (its code)")
def verify_store(tender_code: str | None) -> None:
    """Hash every stored file and compare it with the digest its receipt or record names; reports by
    tender and bid, exits 1 when a file is missing or altered."""
    from core.storage import Finding, file_owners, verify_files

    owners = [o for o in file_owners() if tender_code is None or o.tender == tender_code]
    findings = verify_files(file_store(), owners)
    bad = [f for f in findings if not f.ok]
    by_tender: dict[str, list[Finding]] = {}
    for finding in findings:
        by_tender.setdefault(finding.owner.tender or "-", []).append(finding)
    for tender, rows in sorted(by_tender.items()):
        failed = [f for f in rows if not f.ok]
        click.echo(f"{tender}: {len(rows)} file(s), {len(failed)} bad")
        for finding in failed:
            found = (
                f" (stored SHA-256 {finding.found_sha256}, {finding.found_size} bytes)"
                if finding.found_sha256
                else ""
            )
            click.echo(
                f"  {finding.owner.what}: {finding.status.upper()}, recorded {finding.owner.sha256}{found}"
            )
    total = sum(f.owner.size or f.found_size or 0 for f in findings)
    click.echo(
        f"{'FAIL' if bad else 'OK'}: {len(findings)} file(s), {total} bytes checked, "
        f"{len(bad)} missing or altered"
    )
    if bad:
        raise SystemExit(1)
