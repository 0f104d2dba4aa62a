"""Account rules: registration, sign-in with lockout, second factor, passwords and API tokens.

Services take the session and the acting user, change rows, write the audit entry and flush; the
caller commits. A refused attempt raises a DomainError that carries its audit line in ``keep()``,
so the line survives the rollback (the lockout counts those lines).
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import timedelta

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import audit
from accounts import credit_code as ccode
from accounts import passwords, sessions, throttle, totp
from accounts.models import ROLE_ORG_KIND, ApiToken, Organization, User
from core import clock
from core.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, Unauthorized
from core.keys import ColumnCipher
from core.roles import CUSTODIAN_ROLES, Role
from crypto import age

TOKEN_PREFIX = "sbt_"  # noqa: S105 (a marker, not a secret)


def _cipher() -> ColumnCipher:
    return ColumnCipher(current_app.config["DATA_KEY"])


def _config(name: str) -> int:
    return int(current_app.config[name])


# -- organisations and users -------------------------------------------------------------------------


def validate_credit_code(code: str) -> str:
    code = ccode.normalize(code or "")
    reason = ccode.problem(code)
    if reason:
        raise Invalid(
            _l("This is not a valid unified social credit code (统一社会信用代码)."),
            code="invalid_credit_code",
            details={"reason": reason, "field": "credit_code"},
        )
    return code


def validate_username(username: str | None) -> str:
    username = (username or "").strip()
    if not (3 <= len(username) <= 64) or not all(c.isalnum() or c in "._-" for c in username):
        raise Invalid(
            _l("User names are 3 to 64 letters, digits, dots, dashes or underscores."),
            code="invalid_username",
            details={"field": "username"},
        )
    return username


def create_organization(
    session: Session,
    actor: User | None,
    *,
    name: str,
    credit_code: str,
    kind: str,
    verified: bool = False,
    ip: str | None = None,
) -> Organization:
    """Register an organisation. ``verified`` when the centre itself vouches for it (it created it, or
    checked it): only one verified organisation may hold a credit code; unverified claims may share one
    until the centre decides (accounts.verification)."""
    name = (name or "").strip()
    if not 2 <= len(name) <= 200:
        raise Invalid(
            _l("Give the organisation's registered name."), code="invalid_name", details={"field": "name"}
        )
    code = validate_credit_code(credit_code)
    if verified and session.scalar(
        select(Organization.id).where(Organization.credit_code == code, Organization.verified_at.is_not(None))
    ):
        raise Conflict(
            _l("An organisation with this credit code is already registered."),
            code="duplicate_credit_code",
            details={"field": "credit_code"},
        )
    org = Organization(name=name, credit_code=code, kind=kind)
    if verified:
        org.verified_at, org.verification_method = clock.now(), "centre"
    session.add(org)
    session.flush()
    audit.record(
        session,
        actor,
        "accounts.organization_created",
        org,
        {"name": name, "credit_code": code, "kind": kind, "verified": verified},
        ip,
    )
    return org


def create_user(
    session: Session,
    actor: User | None,
    *,
    username: str,
    display_name: str,
    email: str,
    role: Role | str,
    password: str,
    organization: Organization | None = None,
    phone: str | None = None,
    ip: str | None = None,
) -> User:
    role = Role(role)
    username = validate_username(username)
    if "@" not in (email or "") or len(email) > 320:
        raise Invalid(_l("Give a valid e-mail address."), code="invalid_email", details={"field": "email"})
    expected_kind = ROLE_ORG_KIND.get(role)
    if expected_kind and (organization is None or organization.kind != expected_kind):
        raise Invalid(
            _l("This role needs an organisation of the matching kind."),
            code="role_org_mismatch",
            details={"role": str(role), "expected_kind": expected_kind},
        )
    if session.scalar(select(User.id).where(func.lower(User.username) == username.lower())):
        raise Conflict(
            _l("This user name is taken."), code="duplicate_username", details={"field": "username"}
        )
    passwords.check_policy(password, username=username)
    user = User(
        username=username,
        display_name=(display_name or username).strip()[:100],
        email=email.strip(),
        phone=phone,
        role=str(role),
        organization=organization,
        password_hash=passwords.hash_password(password),
        # A password an administrator chose is the person's to replace at the first sign-in.
        must_change_password=actor is not None and actor.role == Role.ADMIN,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "accounts.user_created",
        user,
        {
            "username": username,
            "role": str(role),
            "organization": str(organization.id) if organization else None,
        },
        ip,
    )
    return user


def register_tenderer(
    session: Session,
    *,
    org_name: str,
    credit_code: str,
    username: str,
    display_name: str,
    email: str,
    password: str,
    phone: str | None = None,
    ip: str | None = None,
) -> tuple[Organization, User]:
    """Free and immediate self-registration of a tenderer company with its first user (企业入库零门槛).

    The company starts unverified: it may browse and download, and bids once the centre has checked its
    licence (accounts.verification). A code already registered is not refused, and the answer does not
    say whether it was: the centre decides between claims."""
    org = create_organization(session, None, name=org_name, credit_code=credit_code, kind="tenderer", ip=ip)
    user = create_user(
        session,
        None,
        username=username,
        display_name=display_name,
        email=email,
        role=Role.TENDERER,
        password=password,
        organization=org,
        phone=phone,
        ip=ip,
    )
    return org, user


def set_role(session: Session, actor: User, user: User, role: Role, ip: str | None = None) -> None:
    old = user.role
    expected_kind = ROLE_ORG_KIND.get(role)
    if expected_kind and (user.organization is None or user.organization.kind != expected_kind):
        raise Invalid(_l("This role needs an organisation of the matching kind."), code="role_org_mismatch")
    user.role = str(role)
    user.session_version += 1
    end_access(session, user, "role_changed")
    audit.record(session, actor, "accounts.role_changed", user, {"from": old, "to": str(role)}, ip)


# -- sign-in -------------------------------------------------------------------------------------------


def _refuse(error: DomainError, action: str, user: User | None, data: dict, ip: str | None) -> DomainError:
    return error.keep(lambda s: audit.record(s, None, action, user, data, ip))


def check_password(session: Session, username: str, password: str, ip: str | None = None) -> User:
    """First factor. Raises ``invalid_credentials`` without saying which part was wrong, and the same
    throttle answer for a user name that exists and one that does not (accounts.throttle)."""
    keys = throttle.password_keys(username, ip)
    throttle.refuse_if_blocked(session, keys)
    user = session.scalar(select(User).where(func.lower(User.username) == (username or "").strip().lower()))
    invalid = Unauthorized(_l("The user name or password is wrong."), code="invalid_credentials")
    invalid.keep(lambda s: throttle.count_failure(s, keys))
    if user is None:
        passwords.burn_time(password or "")
        raise _refuse(invalid, "accounts.sign_in_failed", None, {"username": (username or "")[:64]}, ip)
    if not passwords.verify_password(user.password_hash, password or "") or not user.active:
        raise _refuse(invalid, "accounts.sign_in_failed", user, {"reason": "password"}, ip)
    throttle.clear(session, keys[:1])  # the address-wide count stays: one good account resets nothing
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return user


def second_factor_required(user: User) -> bool:
    return user.totp_enabled or user.role_enum.needs_second_factor


def check_totp(
    session: Session, user: User, code: str, ip: str | None = None, purpose: str = "sign_in"
) -> int:
    """Second factor: a valid code for a time step later than any accepted before (replay guard).
    Wrong codes are counted per account: only someone who has the password can make them."""
    keys = throttle.code_keys(user)
    throttle.refuse_if_blocked(session, keys, second_factor=True)
    if user.totp_secret is None:  # not totp_enabled
        raise Forbidden(_l("Set up your authenticator app first."), code="totp_enrolment_required")
    secret = _cipher().open("totp", user.totp_secret).decode()
    step, replayed = totp.check(secret, code, user.totp_last_step)
    if step is None:
        if replayed:
            error = Unauthorized(
                _l("This code was already used. Wait for the next one."), code="totp_replayed"
            )
        else:
            error = Unauthorized(_l("The code from your authenticator app is wrong."), code="totp_invalid")
        error.keep(lambda s: throttle.count_failure(s, keys))
        raise _refuse(error, "accounts.totp_failed", user, {"purpose": purpose, "replayed": replayed}, ip)
    throttle.clear(session, keys)
    user.totp_last_step = step
    session.flush()
    return step


def complete_sign_in(session: Session, user: User, *, method: str, ip: str | None = None) -> None:
    user.last_sign_in_at = clock.now()
    session.flush()
    audit.record(session, user, "accounts.signed_in", user, {"method": method}, ip)


def sign_out(session: Session, user: User, ip: str | None = None) -> None:
    audit.record(session, user, "accounts.signed_out", user, {}, ip)


# -- second factor enrolment -----------------------------------------------------------------------


def start_totp_enrolment(session: Session, user: User) -> str:
    secret = totp.new_secret()
    user.totp_pending_secret = _cipher().seal("totp", secret.encode())
    session.flush()
    return secret


def pending_totp_secret(user: User) -> str | None:
    if user.totp_pending_secret is None:
        return None
    return _cipher().open("totp", user.totp_pending_secret).decode()


def confirm_totp_enrolment(session: Session, user: User, code: str, ip: str | None = None) -> None:
    secret = pending_totp_secret(user)
    if secret is None:
        raise Conflict(_l("Start the set-up again."), code="totp_enrolment_missing")
    step, _ = totp.check(secret, code, 0)
    if step is None:
        raise _refuse(
            Invalid(
                _l("The code does not match. Check the time on your phone and try again."),
                code="totp_invalid",
            ),
            "accounts.totp_failed",
            user,
            {"purpose": "enrolment"},
            ip,
        )
    user.totp_secret = user.totp_pending_secret
    user.totp_pending_secret = None
    user.totp_last_step = step
    session.flush()
    audit.record(session, user, "accounts.totp_enrolled", user, {}, ip)


# -- passwords -------------------------------------------------------------------------------------


def end_access(session: Session, user: User, reason: str, *, keep_session: str | None = None) -> None:
    """Every way in that ``user`` had ends now: browser sessions (but ``keep_session``, the one making
    the change) and API tokens. Used on password change, role change, second-factor reset, disable."""
    sessions.end_all(session, user, reason, keep=keep_session)
    now = clock.real_now()
    for row in session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ):
        row.revoked_at = now
    session.flush()


def change_password(
    session: Session,
    user: User,
    old: str,
    new: str,
    ip: str | None = None,
    *,
    keep_session: str | None = None,
) -> None:
    if not passwords.verify_password(user.password_hash, old or ""):
        raise _refuse(
            Unauthorized(_l("The current password is wrong."), code="invalid_credentials"),
            "accounts.sign_in_failed",
            user,
            {"reason": "password_change"},
            ip,
        )
    passwords.check_policy(new, username=user.username, old_hash=user.password_hash)
    user.password_hash = passwords.hash_password(new)
    user.password_changed_at = clock.now()
    user.session_version += 1
    end_access(session, user, "password_changed", keep_session=keep_session)
    audit.record(session, user, "accounts.password_changed", user, {"sessions_ended": True}, ip)


# -- API tokens ------------------------------------------------------------------------------------


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def issue_token(
    session: Session, user: User, *, name: str = "api", ip: str | None = None
) -> tuple[str, ApiToken]:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        token_hash=_digest(token),
        name=(name or "api")[:100],
        # Credentials expire in real time: a sandbox clock jump does not void every token.
        expires_at=clock.real_now() + timedelta(days=_config("API_TOKEN_DAYS")),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        user,
        "accounts.token_issued",
        row,
        {"name": row.name, "expires_at": row.expires_at.isoformat()},
        ip,
    )
    return token, row


def user_for_token(session: Session, token: str) -> tuple[User, ApiToken]:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token or "")))
    if row is None:
        raise Unauthorized(_l("This API token is not valid."), code="token_invalid")
    if row.revoked_at is not None:
        raise Unauthorized(_l("This API token was revoked."), code="token_revoked")
    if clock.real_now() >= row.expires_at:
        raise Unauthorized(_l("This API token has expired. Request a new one."), code="token_expired")
    if not row.user.active:
        raise Unauthorized(_l("This account is disabled."), code="account_disabled")
    return row.user, row


def revoke_token(session: Session, actor: User, token_id: uuid.UUID, ip: str | None = None) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or (row.user_id != actor.id and actor.role != Role.ADMIN):
        raise NotFound(_l("No such token."), code="token_not_found")
    if row.revoked_at is None:
        row.revoked_at = clock.now()
        session.flush()
        audit.record(session, actor, "accounts.token_revoked", row, {"user": str(row.user_id)}, ip)
    return row


def sign_in_for_token(
    session: Session, username: str, password: str, code: str | None, ip: str | None = None
) -> User:
    """Both factors in one call, for ``POST /api/v1/auth/token``."""
    user = check_password(session, username, password, ip)
    if second_factor_required(user):
        if not user.totp_enabled:
            raise Forbidden(
                _l("Your role needs a second factor: sign in on the web once to set it up."),
                code="totp_enrolment_required",
            )
        if not code:
            raise Unauthorized(_l("Enter the code from your authenticator app."), code="totp_required")
        check_totp(session, user, code, ip, purpose="api_token")
    if user.must_change_password:
        raise Forbidden(
            _l("Sign in on the web once and choose your own password first."), code="password_change_required"
        )
    return user


def set_custodian_key(session: Session, user: User, recipient: str, ip: str | None = None) -> None:
    """Register the age recipient under which this person holds opening-key shares."""

    if user.role_enum not in CUSTODIAN_ROLES:
        raise Forbidden(
            _l("Only agency staff, supervisors and notaries hold opening-key shares."),
            code="role_forbidden",
        )
    try:
        parsed = age.Recipient.parse((recipient or "").strip())
    except age.AgeError as exc:
        raise Invalid(_l("This is not an age recipient (age1...)."), code="invalid_recipient") from exc
    user.custodian_recipient = str(parsed)
    session.flush()
    audit.record(session, user, "accounts.custodian_key_set", user, {"recipient": str(parsed)}, ip)
