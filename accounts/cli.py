"""``flask --app wsgi users ...``: create the first admin on a new deployment."""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from accounts import services
from accounts.models import Organization
from core.db import db
from core.errors import DomainError
from core.roles import Role

users_cli = AppGroup("users", help="People and organisations.")


@users_cli.command("create-admin")
@click.option("--username", required=True)
@click.option("--email", required=True)
@click.option("--org-name", default="平台运营方")
@click.option("--credit-code", required=True, help="The operator's unified social credit code.")
@click.password_option()
def create_admin(username: str, email: str, org_name: str, credit_code: str, password: str) -> None:
    """Create an administrator (and the platform organisation if missing)."""
    session = db.session
    try:
        org = session.scalar(select(Organization).where(Organization.kind == "platform"))
        if org is None:
            org = services.create_organization(
                session,
                None,
                name=org_name,
                credit_code=credit_code,
                kind="platform",
                verified=True,
                ip="cli",
            )
        services.create_user(
            session,
            None,
            username=username,
            display_name=username,
            email=email,
            role=Role.ADMIN,
            password=password,
            organization=org,
            ip="cli",
        )
    except DomainError as err:
        session.rollback()
        raise click.ClickException(f"{err.code}: {err.message}") from err
    session.commit()
    click.echo(f"admin {username} created; set up the second factor at first sign-in")
