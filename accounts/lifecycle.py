"""A person's account over its life: edited, disabled and enabled again, unlocked, its second factor reset
or replaced by a one-time recovery code, a password chosen by an administrator changed at first use.

Every step is the centre administrators' (except the recovery codes, which are the person's own), is
logged with its reason, and where it takes access away does so at once: browser sessions end and API
tokens are revoked in the same transaction (accounts.services.end_access).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any, cast

from flask_babel import lazy_gettext as _l
from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import Session

import audit
from accounts import passwords, services, throttle
from accounts.models import RecoveryCode, User
from core import clock
from core.errors import Conflict, Forbidden, Invalid, Unauthorized
from core.roles import Role

RECOVERY_CODES = 10


def _require_admin(actor: User) -> None:
    if actor.role != Role.ADMIN:
        raise Forbidden(_l("The centre's administrators manage accounts."), code="role_forbidden")


def _reason(text: str | None) -> str:
    clean = (text or "").strip()
    if len(clean) < 2:
        raise Invalid(
            _l("Say why: it is kept in the log."), code="reason_required", details={"field": "reason"}
        )
    return clean[:500]


def update_profile(
    session: Session,
    actor: User,
    user: User,
    *,
    display_name: str,
    email: str,
    phone: str | None,
    ip: str | None = None,
) -> User:
    _require_admin(actor)
    name = (display_name or "").strip()
    if not 1 <= len(name) <= 100:
        raise Invalid(_l("Give the person's name."), code="invalid_name", details={"field": "display_name"})
    if "@" not in (email or "") or len(email) > 320:
        raise Invalid(_l("Give a valid e-mail address."), code="invalid_email", details={"field": "email"})
    changed = {
        field: value
        for field, value in (
            ("display_name", name),
            ("email", email.strip()),
            ("phone", (phone or "").strip() or None),
        )
        if getattr(user, field) != value
    }
    for field, value in changed.items():
        setattr(user, field, value)
    session.flush()
    if changed:
        # The values are personal data: the log says what changed, not to what.
        audit.record(session, actor, "accounts.user_updated", user, {"fields": sorted(changed)}, ip)
    return user


def disable(session: Session, actor: User, user: User, reason: str, ip: str | None = None) -> User:
    """The person can no longer sign in; every session and API token they hold ends now."""
    _require_admin(actor)
    text = _reason(reason)
    if user.id == actor.id:
        raise Conflict(_l("You cannot disable your own account."), code="cannot_disable_self")
    if user.active:
        user.active = False
        services.end_access(session, user, "disabled")
        session.flush()
        audit.record(session, actor, "accounts.user_disabled", user, {"reason": text}, ip)
    return user


def enable(session: Session, actor: User, user: User, reason: str, ip: str | None = None) -> User:
    _require_admin(actor)
    text = _reason(reason)
    if user.organization is not None and not user.organization.active:
        raise Conflict(
            _l("The organisation is deactivated: reactivate it first."), code="organization_inactive"
        )
    if not user.active:
        user.active = True
        session.flush()
        audit.record(session, actor, "accounts.user_enabled", user, {"reason": text}, ip)
    return user


def unlock(session: Session, actor: User, user: User, ip: str | None = None) -> int:
    """Lift the sign-in throttles on the person's name (from every address) and on their codes."""
    _require_admin(actor)
    lifted = throttle.unlock(session, user)
    audit.record(session, actor, "accounts.user_unlocked", user, {"throttles": lifted}, ip)
    return lifted


def reset_second_factor(
    session: Session, actor: User, user: User, reason: str, ip: str | None = None
) -> None:
    """The person lost their phone: they set up a new authenticator at their next sign-in. Their
    recovery codes go too, and every session ends."""
    _require_admin(actor)
    text = _reason(reason)
    user.totp_secret = None
    user.totp_pending_secret = None
    user.session_version += 1
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    services.end_access(session, user, "second_factor_reset")
    audit.record(session, actor, "accounts.totp_reset", user, {"reason": text}, ip)


def set_password(session: Session, actor: User, user: User, password: str, ip: str | None = None) -> None:
    """An administrator sets a password (a new account, a forgotten one): the person must choose their
    own at the next sign-in, and every session and token ends now."""
    _require_admin(actor)
    passwords.check_policy(password, username=user.username)
    user.password_hash = passwords.hash_password(password)
    user.password_changed_at = clock.now()
    user.must_change_password = True
    user.session_version += 1
    services.end_access(session, user, "password_set")
    audit.record(session, actor, "accounts.password_set", user, {}, ip)


# -- recovery codes: the person's own ------------------------------------------------------------------


def _digest(code: str) -> bytes:
    return hashlib.sha256(code.replace("-", "").replace(" ", "").strip().upper().encode()).digest()


def new_recovery_codes(session: Session, user: User, ip: str | None = None) -> list[str]:
    """Ten fresh one-time codes (shown once); the unused old ones stop working."""
    if not user.totp_enabled:
        raise Conflict(_l("Set up your authenticator app first."), code="totp_enrolment_required")
    session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    now = clock.wall()
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(7)).decode().rstrip("=")[:10]
        codes.append(f"{raw[:5]}-{raw[5:]}")
        session.add(RecoveryCode(code_hash=_digest(raw), user_id=user.id, created_at=now))
    session.flush()
    audit.record(session, user, "accounts.recovery_codes_issued", user, {"count": RECOVERY_CODES}, ip)
    return codes


def unused_recovery_codes(session: Session, user: User) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )


def looks_like_recovery_code(text: str | None) -> bool:
    clean = (text or "").replace("-", "").replace(" ", "").strip()
    return len(clean) == 10 and not clean.isdigit()


def use_recovery_code(session: Session, user: User, code: str, ip: str | None = None) -> None:
    """Sign in with a recovery code instead of the authenticator: once only, throttled like codes."""
    keys = throttle.code_keys(user)
    throttle.refuse_if_blocked(session, keys, second_factor=True)
    used = cast(
        CursorResult[Any],
        session.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user.id,
                RecoveryCode.code_hash == _digest(code or ""),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=clock.wall())
        ),
    )
    if not used.rowcount:
        error = Unauthorized(_l("This recovery code is wrong or already used."), code="recovery_code_invalid")
        error.keep(lambda s: throttle.count_failure(s, keys))
        raise error.keep(
            lambda s: audit.record(s, None, "accounts.totp_failed", user, {"purpose": "recovery_code"}, ip)
        )
    throttle.clear(session, keys)
    session.flush()
    left = unused_recovery_codes(session, user)
    audit.record(session, user, "accounts.recovery_code_used", user, {"left": left}, ip)


# -- the password an administrator chose is changed at first use -----------------------------------


def change_first_password(
    session: Session, user: User, new: str, ip: str | None = None, *, keep_session: str | None = None
) -> None:
    """The person replaces the password an administrator set (they proved the old one to sign in)."""
    if not user.must_change_password:
        raise Conflict(_l("Your password is your own already."), code="password_already_changed")
    passwords.check_policy(new, username=user.username, old_hash=user.password_hash)
    user.password_hash = passwords.hash_password(new)
    user.password_changed_at = clock.now()
    user.must_change_password = False
    user.session_version += 1
    services.end_access(session, user, "password_changed", keep_session=keep_session)
    audit.record(session, user, "accounts.password_changed", user, {"first": True}, ip)
