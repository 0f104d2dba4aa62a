"""``flask --app wsgi ca init|issue|chain|crl|revoke``: the platform CA from the command line."""

from __future__ import annotations

from pathlib import Path

import click
from cryptography.hazmat.primitives import serialization
from flask.cli import AppGroup
from sqlalchemy import func, select

from accounts import pki
from accounts.models import User
from core.db import db
from core.errors import DomainError

ca_cli = AppGroup("ca", help="The platform certificate authority.")


def _fail(err: DomainError) -> click.ClickException:
    db.session.rollback()
    return click.ClickException(f"{err.code}: {err.message}")


@ca_cli.command("init")
@click.option("--name", default="SunBid Platform CA")
def init(name: str) -> None:
    """Create the root and issuing CA (once); keys encrypted with SUNBID_CA_PASSPHRASE."""
    row = pki.ensure_ca(db.session, name)
    db.session.commit()
    click.echo(f"CA ready: {row.name}")


@ca_cli.command("issue")
@click.argument("csr_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--user", "username", help="issue to this user (profile from the role, subject from the account)"
)
@click.option("--service", help="issue a platform service certificate with this name")
def issue(csr_file: Path, username: str | None, service: str | None) -> None:
    """Certify the key in CSR_FILE and print the certificate (PEM)."""
    if bool(username) == bool(service):
        raise click.UsageError("give exactly one of --user or --service")
    csr = csr_file.read_text()
    try:
        if service:
            pem = (
                pki.issue_service_certificate(db.session, csr, service)
                .public_bytes(serialization.Encoding.PEM)
                .decode()
            )
        else:
            user = db.session.scalar(
                select(User).where(func.lower(User.username) == (username or "").lower())
            )
            if user is None:
                raise click.ClickException(f"no user named {username}")
            pem = pki.issue_signing_certificate(db.session, user, csr, "cli").pem
    except DomainError as err:
        raise _fail(err) from err
    db.session.commit()
    click.echo(pem, nl=False)


@ca_cli.command("chain")
def chain() -> None:
    """Print the CA chain (issuing CA, then root) as PEM."""
    row = pki.get_ca(db.session)
    click.echo(row.issuing_pem + row.root_pem, nl=False)


@ca_cli.command("crl")
def crl() -> None:
    """Print the current CRL (PEM), publishing a fresh one when due."""
    current = pki.current_crl(db.session)
    db.session.commit()
    click.echo(current.public_bytes(serialization.Encoding.PEM).decode(), nl=False)


@ca_cli.command("revoke")
@click.argument("serial")
@click.option("--reason", default="unspecified", type=click.Choice(sorted(pki.REASONS)))
def revoke(serial: str, reason: str) -> None:
    """Revoke a certificate by its serial (hex) and republish the CRL."""
    admin = db.session.scalar(select(User).where(User.role == "admin").order_by(User.created_at))
    if admin is None:
        raise click.ClickException("create an administrator first (users create-admin)")
    try:
        pki.revoke(db.session, admin, serial, reason, "cli")
    except DomainError as err:
        raise _fail(err) from err
    db.session.commit()
    click.echo(f"revoked {serial}")
