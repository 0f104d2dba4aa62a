"""Domain errors: one stable code, a translatable message, an HTTP status, optional details.

Services raise these; the API renders ``{"error": {"code", "message", "details"}}`` and pages flash
the message. Codes are part of the public contract (API.md): never rename one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: Any = None,
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
        status: int | None = None,
    ) -> None:
        # The message stays lazy: it is translated when rendered, in the reader's language.
        super().__init__(code or self.code)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details or {}
        # Work to keep although the request's transaction is rolled back, e.g. the audit line of a
        # failed sign-in (it is what the lockout counts).
        self.after_rollback: list[Callable[[Session], object]] = []

    def keep(self, fn: Callable[[Session], object]) -> DomainError:
        self.after_rollback.append(fn)
        return self

    def to_json(self) -> dict[str, Any]:
        return {
            "error": {"code": self.code, "message": str(self.message or self.code), "details": self.details}
        }


class Unauthorized(DomainError):
    status = 401
    code = "unauthenticated"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class TooLarge(DomainError):
    status = 413
    code = "too_large"


class Invalid(DomainError):
    status = 422
    code = "invalid"


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
