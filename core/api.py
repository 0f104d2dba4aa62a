"""Helpers for the JSON API: pagination, the OpenAPI document and its page. Request bodies and queries
are declared and validated with ``core.openapi.api_doc`` (see core/schemas.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, jsonify, render_template
from flask.typing import ResponseReturnValue
from sqlalchemy import Select
from sqlalchemy.orm import Session

from core import openapi, paging
from core.schemas import PageQuery

bp = Blueprint("api_root", __name__)


def paginate(
    session: Session, query: Select[Any], serialize: Callable[[Any], Any], *, page: PageQuery
) -> dict[str, Any]:
    """One page of ``query`` as API.md's list envelope; ``page`` is the endpoint's validated query."""
    rows = paging.page_of(session, query, page.per_page, page.page, clamp=False)
    return {
        "items": [serialize(r) for r in rows.items],
        "page": page.page,
        "per_page": page.per_page,
        "total": rows.total,
    }


def _spec() -> dict[str, Any]:
    # The routes are all registered before the first request: build the document once per app.
    if "sunbid.openapi" not in current_app.extensions:
        current_app.extensions["sunbid.openapi"] = openapi.build(current_app)
    spec: dict[str, Any] = current_app.extensions["sunbid.openapi"]
    return spec


@bp.get("/api/v1/openapi.json")
@openapi.api_doc(
    public=True, responses={200: openapi.Raw("application/json", "this document", {"type": "object"})}
)
def openapi_json() -> ResponseReturnValue:
    """This OpenAPI 3.1 document."""
    return jsonify(_spec())


@bp.get("/api/docs")
def docs() -> str:
    return render_template("core/api_docs.html", spec=_spec())
