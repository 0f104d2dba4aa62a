"""Time-based one-time passwords (RFC 6238) with a replay guard.

pyotp computes the codes; which time step matched is decided here, because a code may be accepted
only for a step later than the last one accepted for that user (pyotp's ``verify`` cannot tell).
"""

from __future__ import annotations

import hmac

import pyotp
import segno

from core import clock

ISSUER = "SunBid"
DRIFT_STEPS = 1  # accept the previous and next 30 s step: phones drift


def new_secret() -> str:
    return pyotp.random_base32()


def current_step() -> int:
    """The 30 s step of real time (RFC 6238 counts from the Unix epoch as the phone does), never the
    sandbox's platform clock: codes from an authenticator app keep working after the sandbox moves."""
    return int(clock.real_now().timestamp()) // 30


def check(secret: str, code: str, after_step: int) -> tuple[int | None, bool]:
    """``(step, replayed)``: the time step ``code`` is valid for now and later than ``after_step``;
    or ``(None, True)`` when it is valid but was already used (its step is not later)."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None, False
    totp = pyotp.TOTP(secret)
    now = current_step()
    found, replayed = None, False
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        # Compare every candidate, in constant time, so timing does not reveal which step matched.
        if hmac.compare_digest(totp.generate_otp(step), code):
            if step > after_step:
                found = step
            else:
                replayed = True
    return found, replayed and found is None


def code_at(secret: str, step: int | None = None) -> str:
    """The code for a time step (tests and demo help)."""
    return pyotp.TOTP(secret).generate_otp(current_step() if step is None else step)


def provisioning_uri(secret: str, account: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def qr_svg_data_uri(uri: str) -> str:
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
