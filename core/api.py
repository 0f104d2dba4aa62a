"""Helpers for the JSON API: request bodies, pagination, the OpenAPI document and its page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from core import openapi
from core.errors import Invalid

bp = Blueprint("api_root", __name__)


def json_body(required: tuple[str, ...] = ()) -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise Invalid(_l("The request body must be a JSON object."), code="invalid_json")
    missing = [k for k in required if data.get(k) in (None, "")]
    if missing:
        raise Invalid(_l("Required fields are missing."), code="missing_fields", details={"fields": missing})
    return data


def paginate(session: Session, query: Select, serialize, *, max_per_page: int = 200) -> dict[str, Any]:
    try:
        page = max(1, int(request.args.get("page", 1)))
        per_page = min(max_per_page, max(1, int(request.args.get("per_page", 50))))
    except ValueError as exc:
        raise Invalid(_l("page and per_page must be integers."), code="invalid_pagination") from exc
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = session.scalars(query.limit(per_page).offset((page - 1) * per_page)).all()
    return {"items": [serialize(r) for r in rows], "page": page, "per_page": per_page, "total": total}


@bp.get("/api/v1/openapi.json")
def openapi_json():
    return jsonify(openapi.build(current_app))


@bp.get("/api/docs")
def docs():
    spec = openapi.build(current_app)
    return render_template("core/api_docs.html", spec=spec)
