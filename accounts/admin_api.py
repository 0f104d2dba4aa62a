"""The centre's administration through the API: organisations and people (the pages' twins)."""

from __future__ import annotations

import uuid

from flask import Blueprint, jsonify
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from accounts import lifecycle, organizations, services
from accounts.models import Organization, User
from accounts.schemas import (
    NewUserBody,
    OrganizationBody,
    OrganizationQuery,
    PasswordBody,
    ProfileBody,
    ReasonBody,
    RenameBody,
    UsersQuery,
)
from core.api import paginate
from core.auth import roles_required
from core.db import db
from core.errors import NotFound
from core.extensions import client_ip
from core.openapi import api_doc
from core.roles import Role
from core.schemas import Out, PageOut

bp = Blueprint("admin_api", __name__, url_prefix="/api/v1/admin")


def organization_json(org: Organization) -> dict:
    return {
        "id": str(org.id),
        "name": org.name,
        "credit_code": org.credit_code,
        "kind": org.kind,
        "active": org.active,
        "verified": org.verified_at is not None,
        "created_at": org.created_at.isoformat(),
    }


def person_json(user: User) -> dict:
    return {
        "id": str(user.id),
        "username": user.username,
        "display_name": user.display_name,
        "email": user.email,
        "phone": user.phone,
        "role": user.role,
        "organization": str(user.organization_id) if user.organization_id else None,
        "active": user.active,
        "must_change_password": user.must_change_password,
        "second_factor": user.totp_enabled,
        "last_sign_in_at": user.last_sign_in_at.isoformat() if user.last_sign_in_at else None,
    }


def _org(org_id: uuid.UUID) -> Organization:
    org = db.session.get(Organization, org_id)
    if org is None:
        raise NotFound(_l("No such organisation."), code="organization_not_found")
    return org


def _user(user_id: uuid.UUID) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_l("No such user."), code="user_not_found")
    return user


@bp.get("/organizations")
@roles_required(Role.ADMIN)
@api_doc(query=OrganizationQuery, responses={200: PageOut})
def list_organizations(query: OrganizationQuery):
    """Organisations by kind and name or credit code."""
    return jsonify(
        paginate(db.session, organizations.query(query.kind, query.q), organization_json, page=query)
    )


@bp.post("/organizations")
@roles_required(Role.ADMIN)
@api_doc(body=OrganizationBody, responses={201: Out})
def create_organization(body: OrganizationBody):
    """Register an organisation the centre vouches for (verified at once; credit code checked)."""
    org = organizations.create(
        db.session, current_user, name=body.name, credit_code=body.credit_code, kind=body.kind, ip=client_ip()
    )
    db.session.commit()
    return jsonify(organization_json(org)), 201


@bp.get("/organizations/<uuid:org_id>")
@roles_required(Role.ADMIN)
@api_doc(responses={200: Out})
def get_organization(org_id: uuid.UUID):
    org = _org(org_id)
    body = organization_json(org)
    body["people"] = [person_json(u) for u in org.users]
    return jsonify(body)


@bp.patch("/organizations/<uuid:org_id>")
@roles_required(Role.ADMIN)
@api_doc(body=RenameBody, responses={200: Out})
def rename_organization(org_id: uuid.UUID, body: RenameBody):
    org = organizations.rename(db.session, current_user, _org(org_id), body.name, client_ip())
    db.session.commit()
    return jsonify(organization_json(org))


@bp.post("/organizations/<uuid:org_id>/deactivate")
@roles_required(Role.ADMIN)
@api_doc(body=ReasonBody, responses={200: Out})
def deactivate_organization(org_id: uuid.UUID, body: ReasonBody):
    """Its people can no longer sign in (sessions and tokens end at once); its records stay."""
    org = organizations.set_active(db.session, current_user, _org(org_id), False, body.reason, client_ip())
    db.session.commit()
    return jsonify(organization_json(org))


@bp.post("/organizations/<uuid:org_id>/activate")
@roles_required(Role.ADMIN)
@api_doc(body=ReasonBody, responses={200: Out})
def activate_organization(org_id: uuid.UUID, body: ReasonBody):
    org = organizations.set_active(db.session, current_user, _org(org_id), True, body.reason, client_ip())
    db.session.commit()
    return jsonify(organization_json(org))


@bp.get("/users")
@roles_required(Role.ADMIN)
@api_doc(query=UsersQuery, responses={200: PageOut})
def list_users(query: UsersQuery):
    statement = select(User).order_by(User.role, User.username)
    if query.organization:
        statement = statement.where(User.organization_id == query.organization)
    if query.q:
        statement = statement.where(
            User.username.icontains(query.q, autoescape=True)
            | User.display_name.icontains(query.q, autoescape=True)
        )
    return jsonify(paginate(db.session, statement, person_json, page=query))


@bp.post("/users")
@roles_required(Role.ADMIN)
@api_doc(body=NewUserBody, responses={201: Out})
def create_user(body: NewUserBody):
    """Add a person to an organisation (or an expert): they choose their own password at first sign-in."""
    org = _org(body.organization) if body.organization else None
    user = services.create_user(
        db.session,
        current_user,
        username=body.username,
        display_name=body.display_name,
        email=body.email,
        role=body.role,
        password=body.password,
        organization=org,
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify(person_json(user)), 201


@bp.get("/users/<uuid:user_id>")
@roles_required(Role.ADMIN)
@api_doc(responses={200: Out})
def get_user(user_id: uuid.UUID):
    return jsonify(person_json(_user(user_id)))


@bp.patch("/users/<uuid:user_id>")
@roles_required(Role.ADMIN)
@api_doc(body=ProfileBody, responses={200: Out})
def update_user(user_id: uuid.UUID, body: ProfileBody):
    user = lifecycle.update_profile(
        db.session,
        current_user,
        _user(user_id),
        display_name=body.display_name,
        email=body.email,
        phone=body.phone,
        ip=client_ip(),
    )
    db.session.commit()
    return jsonify(person_json(user))


@bp.post("/users/<uuid:user_id>/disable")
@roles_required(Role.ADMIN)
@api_doc(body=ReasonBody, responses={200: Out})
def disable_user(user_id: uuid.UUID, body: ReasonBody):
    """Disable now: the person's sessions and API tokens end in the same transaction."""
    user = lifecycle.disable(db.session, current_user, _user(user_id), body.reason, client_ip())
    db.session.commit()
    return jsonify(person_json(user))


@bp.post("/users/<uuid:user_id>/enable")
@roles_required(Role.ADMIN)
@api_doc(body=ReasonBody, responses={200: Out})
def enable_user(user_id: uuid.UUID, body: ReasonBody):
    user = lifecycle.enable(db.session, current_user, _user(user_id), body.reason, client_ip())
    db.session.commit()
    return jsonify(person_json(user))


@bp.post("/users/<uuid:user_id>/unlock")
@roles_required(Role.ADMIN)
@api_doc(responses={200: Out})
def unlock_user(user_id: uuid.UUID):
    lifted = lifecycle.unlock(db.session, current_user, _user(user_id), client_ip())
    db.session.commit()
    return jsonify({"lifted": lifted})


@bp.post("/users/<uuid:user_id>/reset-second-factor")
@roles_required(Role.ADMIN)
@api_doc(body=ReasonBody, responses={200: Out})
def reset_second_factor(user_id: uuid.UUID, body: ReasonBody):
    user = _user(user_id)
    lifecycle.reset_second_factor(db.session, current_user, user, body.reason, client_ip())
    db.session.commit()
    return jsonify(person_json(user))


@bp.post("/users/<uuid:user_id>/password")
@roles_required(Role.ADMIN)
@api_doc(body=PasswordBody, responses={200: Out})
def set_password(user_id: uuid.UUID, body: PasswordBody):
    user = _user(user_id)
    lifecycle.set_password(db.session, current_user, user, body.password, client_ip())
    db.session.commit()
    return jsonify(person_json(user))
