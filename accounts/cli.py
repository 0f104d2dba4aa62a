"""``flask --app wsgi users ...``: create the first admin on a new deployment."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click
from flask.cli import AppGroup
from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import lifecycle, organizations, services
from accounts.models import ORG_KINDS, Organization, User
from core.db import db
from core.errors import DomainError
from core.roles import Role

T = TypeVar("T")

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


def _run(action: Callable[[Session], T]) -> T:
    """One unit of work from the command line: commit, or roll back and say why (exit 1)."""
    session = db.session
    try:
        result = action(session)
    except DomainError as err:
        session.rollback()
        raise click.ClickException(f"{err.code}: {err.message}") from err
    session.commit()
    return result


def _admin(session) -> User:
    """Commands act as the centre: the first active administrator stands for it in the log."""
    admin = session.scalar(select(User).where(User.role == Role.ADMIN, User.active).order_by(User.created_at))
    if admin is None:
        raise click.ClickException("create an administrator first (users create-admin)")
    return admin


def _find_user(session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise click.ClickException(f"no user named {username}")
    return user


@users_cli.command("create-org")
@click.option("--kind", required=True, type=click.Choice(organizations.CREATABLE_KINDS))
@click.option("--name", required=True)
@click.option("--credit-code", required=True)
def create_org(kind: str, name: str, credit_code: str) -> None:
    """Register an agency, tenderee, supervising authority or notary office (verified by the centre)."""
    org = _run(
        lambda s: organizations.create(s, _admin(s), name=name, credit_code=credit_code, kind=kind, ip="cli")
    )
    click.echo(f"{org.kind} {org.name} ({org.credit_code}) registered")


@users_cli.command("list-orgs")
@click.option("--kind", type=click.Choice(ORG_KINDS))
def list_orgs(kind: str | None) -> None:
    """The organisations, one per line: kind, credit code, name, active."""
    for org in db.session.scalars(organizations.query(kind)):
        click.echo(f"{org.kind}\t{org.credit_code}\t{org.name}\t{'active' if org.active else 'deactivated'}")


@users_cli.command("create")
@click.option("--org", "credit_code", help="the organisation's credit code (none for an expert)")
@click.option("--role", required=True, type=click.Choice([str(r) for r in Role]))
@click.option("--username", required=True)
@click.option("--name", "display_name", required=True)
@click.option("--email", required=True)
@click.password_option(help="a first password: they choose their own at the first sign-in")
def create(
    credit_code: str | None, role: str, username: str, display_name: str, email: str, password: str
) -> None:
    """Add a person to an organisation (or an expert)."""

    def action(session):
        org = None
        if credit_code:
            org = session.scalar(
                select(Organization)
                .where(Organization.credit_code == credit_code, Organization.active)
                .order_by(Organization.verified_at.is_(None))
            )
            if org is None:
                raise click.ClickException(f"no active organisation with credit code {credit_code}")
        return services.create_user(
            session,
            _admin(session),
            username=username,
            display_name=display_name,
            email=email,
            role=role,
            password=password,
            organization=org,
            ip="cli",
        )

    user = _run(action)
    click.echo(f"{user.role} {user.username} created; they choose their password at the first sign-in")


@users_cli.command("disable")
@click.argument("username")
@click.option("--reason", required=True)
def disable(username: str, reason: str) -> None:
    """Disable an account now: its sessions and API tokens end."""
    _run(lambda s: lifecycle.disable(s, _admin(s), _find_user(s, username), reason, "cli"))
    click.echo(f"{username} disabled")


@users_cli.command("enable")
@click.argument("username")
@click.option("--reason", required=True)
def enable(username: str, reason: str) -> None:
    _run(lambda s: lifecycle.enable(s, _admin(s), _find_user(s, username), reason, "cli"))
    click.echo(f"{username} enabled")


@users_cli.command("unlock")
@click.argument("username")
def unlock(username: str) -> None:
    """Lift the sign-in throttles on an account (from every address)."""
    lifted = _run(lambda s: lifecycle.unlock(s, _admin(s), _find_user(s, username), "cli"))
    click.echo(f"{username}: {lifted} lock(s) lifted")
