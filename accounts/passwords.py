"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app
from flask_babel import lazy_gettext as _l

from core.errors import Invalid

MIN_LENGTH = 10

# The most common choices in Chinese and global leak lists; length alone does not stop these.
COMMON = frozenset(
    {
        "1234567890",
        "12345678910",
        "qwertyuiop",
        "1q2w3e4r5t",
        "password123",
        "a123456789",
        "woaini1314",
        "1qaz2wsx3edc",
        "abc1234567",
        "asdfghjkl1",
        "iloveyou12",
        "passw0rd12",
        "admin12345",
        "zxcvbnm123",
        "qwerty1234",
        "1234qwer!!",
        "abcd123456",
        "0123456789",
        "5201314520",
        "aa12345678",
        "p@ssw0rd123",
    }
)


def _hasher() -> PasswordHasher:
    app = current_app
    hasher = app.extensions.get("sunbid.hasher")
    if hasher is None:
        params = app.config.get("PASSWORD_HASH_PARAMS") or {}
        hasher = PasswordHasher(**params)
        app.extensions["sunbid.hasher"] = hasher
    return hasher


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher().verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return _hasher().check_needs_rehash(stored)


# Verifying against this keeps the time of a sign-in with an unknown user name close to a real one,
# so response times do not reveal which user names exist.
_DUMMY: dict[str, str] = {}


def burn_time(password: str) -> None:
    app_key = id(current_app._get_current_object())  # type: ignore[attr-defined]  # the proxied app
    dummy = _DUMMY.get(str(app_key))
    if dummy is None:
        dummy = _DUMMY[str(app_key)] = hash_password("not-a-real-password-0")
    verify_password(dummy, password)


def check_policy(password: str, *, username: str = "", old_hash: str | None = None) -> None:
    reasons = []
    if len(password) < MIN_LENGTH:
        reasons.append("too_short")
    classes = sum(
        bool(any(test(c) for c in password))
        for test in (str.isdigit, str.islower, str.isupper, lambda c: not c.isalnum())
    )
    if classes < 2:
        reasons.append("too_simple")
    if password.lower() in COMMON or len(set(password)) <= 3:
        reasons.append("too_common")
    if username and username.lower() in password.lower():
        reasons.append("contains_username")
    if old_hash and verify_password(old_hash, password):
        reasons.append("same_as_old")
    if reasons:
        raise Invalid(
            _l(
                "The password is too weak: use at least %(n)s characters mixing letters with digits or "
                "symbols, not a common password and not your user name.",
                n=MIN_LENGTH,
            ),
            code="weak_password",
            details={"reasons": reasons},
        )
