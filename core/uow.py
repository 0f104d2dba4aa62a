"""Unit-of-work helpers for views: commit once, or roll back and keep what a refusal must keep."""

from __future__ import annotations

from collections.abc import Callable

from flask import flash

from core.db import db
from core.errors import DomainError
from core.present import error_text, problem_text


def rollback_for(err: DomainError) -> None:
    """Undo the request's changes, then write what ``err`` asked to keep (e.g. a failed sign-in line)."""
    session = db.session
    session.rollback()
    if err.after_rollback:
        for keep in err.after_rollback:
            keep(session)
        session.commit()


def flash_error(err: DomainError) -> None:
    rollback_for(err)
    flash(error_text(err), "error")


def attempt(action: Callable[[], object], success: str) -> bool:
    """The pages' unit of work: call one service, commit and flash ``success``; or roll back and flash
    the refusal (with each listed problem). True when it went through."""
    try:
        action()
    except DomainError as err:
        flash_error(err)
        for problem in (err.details or {}).get("problems", []):
            if isinstance(problem, dict):
                flash(problem_text(problem), "error")
        return False
    db.session.commit()
    flash(success, "success")
    return True
