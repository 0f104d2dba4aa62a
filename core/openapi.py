"""The OpenAPI 3.1 document, built from the registered /api/v1 routes.

Each API view documents itself: the first docstring line is the summary, the rest the description;
``@api_doc(...)`` adds request and response schemas. The document therefore cannot drift from the
routes that exist.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "stable snake_case code"},
                "message": {"type": "string", "description": "translated message"},
                "details": {"type": "object"},
            },
        }
    },
}


def api_doc(
    *,
    request: dict | None = None,
    responses: dict[int, Any] | None = None,
    public: bool = False,
    tags: list[str] | None = None,
) -> Callable:
    def decorate(view: Callable) -> Callable:
        view.openapi = {"request": request, "responses": responses or {}, "public": public, "tags": tags}
        return view

    return decorate


def _path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def build(app: Flask) -> dict:
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/v1/"):
            continue
        view = app.view_functions[rule.endpoint]
        meta = getattr(view, "openapi", {}) or {}
        roles = getattr(view, "allowed_roles", None)
        doc = (view.__doc__ or "").strip().splitlines()
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            op: dict[str, Any] = {
                "operationId": f"{rule.endpoint}.{method.lower()}",
                "summary": doc[0] if doc else rule.endpoint,
                "tags": meta.get("tags") or [rule.endpoint.split(".")[0].replace("_api", "")],
                "parameters": [
                    {"name": arg, "in": "path", "required": True, "schema": {"type": "string"}}
                    for arg in sorted(rule.arguments)
                ],
                "responses": {
                    str(code): {
                        "description": desc if isinstance(desc, str) else "OK",
                        **(
                            {"content": {"application/json": {"schema": desc}}}
                            if isinstance(desc, dict)
                            else {}
                        ),
                    }
                    for code, desc in (meta.get("responses") or {200: "OK"}).items()
                },
            }
            op["responses"].setdefault(
                "default",
                {
                    "description": "error",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            )
            if len(doc) > 1:
                op["description"] = "\n".join(line.strip() for line in doc[1:]).strip()
            if roles is not None:
                op["security"] = [{"bearer": []}]
                if roles:
                    op["x-roles"] = [str(r) for r in roles]
            if meta.get("request") and method in {"POST", "PUT", "PATCH"}:
                op["requestBody"] = {
                    "required": True,
                    "content": {"application/json": {"schema": meta["request"]}},
                }
            paths.setdefault(_path(rule.rule), {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SunBid API",
            "version": "1",
            "description": "Public JSON API of SunBid (阳光招采). Errors: {error: {code, message, details}}.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
