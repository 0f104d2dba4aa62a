"""The OpenAPI 3.1 document, built from the registered /api/v1 routes, and the one place where API input
is validated against it.

Each API view documents itself: the first docstring line is the summary, the rest the description;
``@api_doc(body=..., query=..., responses=...)`` names the pydantic models (core.schemas) its request
must fit and its answers have. The same models validate every request before the view runs and
generate the published JSON Schema, so the document cannot drift from the routes that exist nor from
what they accept. How to declare a new endpoint: see core/schemas.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Flask, current_app, request
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from werkzeug.routing import IntegerConverter, UUIDConverter

from core.schemas import Body, ErrorOut, InvalidOut, Query, parse_body, parse_query, takes_required

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Raw:
    """A response that is not a JSON object: a file, a PEM text, a signed JSON document kept byte-exact."""

    media_type: str
    description: str = "OK"
    schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class Upload:
    """A request body that is a file: the raw body (streamed) or multipart/form-data with ``field``."""

    field: str | None = "file"
    raw: bool = True


def api_doc(
    *,
    body: type[Body] | None = None,
    query: type[Query] | None = None,
    form: bool = False,
    upload: Upload | None = None,
    responses: dict[int, Any] | None = None,
    public: bool = False,
    tags: list[str] | None = None,
    **legacy: Any,
) -> Callable[..., Any]:
    """Declare what the endpoint takes and answers; validate every request against it.

    ``body``/``query``: models the view receives as its ``body``/``query`` keyword arguments, already
    validated (422 otherwise). ``form``: the body may also come as multipart/form-data fields.
    ``upload``: the body is a file (documented, not parsed). ``responses``: status -> a model class
    (JSON), a :class:`Raw` media type, or a description (no body, e.g. 204).
    """
    if legacy:
        raise TypeError(
            "api_doc takes pydantic models now: body=..., query=... (see core/schemas.py), not "
            + ", ".join(legacy)
        )

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def validated(*args: Any, **kwargs: Any) -> Any:
            if current_app.config.get("API_VALIDATION", True):
                if body is not None and request.method in BODY_METHODS:
                    kwargs["body"] = parse_body(body, request, form=form)
                if query is not None:
                    kwargs["query"] = parse_query(query, request)
            else:  # bench/: the request as before validation existed (never in production)
                kwargs.update(_unchecked(body, query, form))
            return view(*args, **kwargs)

        validated.openapi = {  # type: ignore[attr-defined]  # read by build() and the access tests
            "body": body,
            "query": query,
            "form": form,
            "upload": upload,
            "responses": responses or {},
            "public": public,
            "tags": tags,
        }
        return validated

    return decorate


def _unchecked(body: type[Body] | None, query: type[Query] | None, form: bool) -> dict[str, Any]:
    """The request as views read it before this layer existed (``API_VALIDATION = False``): raw JSON
    values and query strings, unchecked. For bench/api_validation's side-by-side figure only."""
    out: dict[str, Any] = {}
    if body is not None and request.method in BODY_METHODS:
        data = request.form if form and request.mimetype == "multipart/form-data" else request.get_json()
        out["body"] = _Unchecked(body, dict(data or {}))
    if query is not None:
        out["query"] = _Unchecked(query, request.args.to_dict())
    return out


class _Unchecked:
    def __init__(self, model: type[BaseModel], raw: dict[str, Any]) -> None:
        self._model, self._raw = model, raw

    def data(self) -> dict[str, Any]:
        return dict(self._raw)

    def __getattr__(self, name: str) -> Any:
        field = self._model.model_fields[name]
        key = field.alias or name
        if key not in self._raw:
            return field.get_default(call_default_factory=True)
        value = self._raw[key]
        # What the views did by hand before: int() on a query string's numbers.
        return int(value) if field.annotation in (int, "int") and isinstance(value, str) else value


def _path(rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def _path_schema(converter: Any) -> dict[str, Any]:
    if isinstance(converter, UUIDConverter):
        return {"type": "string", "format": "uuid"}
    if isinstance(converter, IntegerConverter):
        return {"type": "integer", "minimum": 0}
    return {"type": "string", "pattern": "^[^/]+$"}


class _Schemas:
    """Every model the document names, rendered once into components/schemas."""

    def __init__(self) -> None:
        self.models: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}

    def ref(self, model: type[BaseModel], mode: JsonSchemaMode = "validation") -> dict[str, Any]:
        self.models[(model, mode)] = None
        return {"x-model": (model, mode)}

    def resolve(self, doc: dict[str, Any]) -> dict[str, Any]:
        keys = list(self.models)
        refs, top = models_json_schema(keys, ref_template="#/components/schemas/{model}")
        schemas = dict(top.get("$defs", {}))

        def walk(node: Any) -> Any:
            if isinstance(node, dict):
                if "x-model" in node:
                    return refs[node["x-model"]]
                return {k: walk(v) for k, v in node.items()}
            if isinstance(node, list):
                return [walk(v) for v in node]
            return node

        resolved: dict[str, Any] = walk(doc) | {"components": walk(doc["components"]) | {"schemas": schemas}}
        return resolved


def _query_parameters(model: type[Query], schemas: _Schemas) -> list[dict[str, Any]]:
    full = model.model_json_schema(ref_template="#/components/schemas/{model}")
    required = set(full.get("required", ()))
    params = []
    for name, schema in full.get("properties", {}).items():
        schema = {k: v for k, v in schema.items() if k != "title"}
        description = schema.pop("description", None)
        param = {"name": name, "in": "query", "required": name in required, "schema": schema}
        if description:
            param["description"] = description
        params.append(param)
    for nested in full.get("$defs", {}):
        raise TypeError(f"{model.__name__}: a query parameter cannot be an object ({nested})")
    return params


def _responses(declared: dict[int, Any], has_input: bool, schemas: _Schemas) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for code, spec in (declared or {200: "OK"}).items():
        if isinstance(spec, type) and issubclass(spec, BaseModel):
            out[str(code)] = {
                "description": (spec.__doc__ or "OK").strip().splitlines()[0],
                "content": {"application/json": {"schema": schemas.ref(spec, "serialization")}},
            }
        elif isinstance(spec, Raw):
            content = {spec.media_type: {"schema": spec.schema} if spec.schema else {}}
            out[str(code)] = {"description": spec.description, "content": content}
        else:
            out[str(code)] = {"description": str(spec)}
    if has_input:
        out.setdefault(
            "422",
            {
                "description": "the request does not fit its schema (each field named), or a rule refused it",
                "content": {
                    "application/json": {
                        "schema": {"anyOf": [schemas.ref(InvalidOut, "serialization"), schemas.ref(ErrorOut)]}
                    }
                },
            },
        )
    out.setdefault(
        "default",
        {"description": "error", "content": {"application/json": {"schema": schemas.ref(ErrorOut)}}},
    )
    return out


def _request_body(meta: dict[str, Any], schemas: _Schemas) -> dict[str, Any] | None:
    body, upload = meta.get("body"), meta.get("upload")
    content: dict[str, Any] = {}
    if body is not None:
        content["application/json"] = {"schema": schemas.ref(body)}
        if meta.get("form"):
            content["multipart/form-data"] = {"schema": schemas.ref(body)}
    if upload is not None:
        if upload.raw:
            content["application/octet-stream"] = {"schema": {"type": "string", "format": "binary"}}
        if upload.field:
            file = {"type": "object", "properties": {upload.field: {"type": "string", "format": "binary"}}}
            if "multipart/form-data" in content:  # fields and an optional file
                content["multipart/form-data"] = {
                    "schema": {"allOf": [content["multipart/form-data"]["schema"], file]}
                }
            else:
                content["multipart/form-data"] = {"schema": file | {"required": [upload.field]}}
    required = upload is not None or (body is not None and takes_required(body))
    return {"required": required, "content": content} if content else None


def build(app: Flask) -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/api/v1/"):
            continue
        view = app.view_functions[rule.endpoint]
        meta = getattr(view, "openapi", {}) or {}
        roles = getattr(view, "allowed_roles", None)
        doc = (view.__doc__ or "").strip().splitlines()
        converters = getattr(rule, "_converters", {})
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            takes_body = method in BODY_METHODS and (meta.get("body") or meta.get("upload"))
            parameters = [
                {"name": arg, "in": "path", "required": True, "schema": _path_schema(converters.get(arg))}
                for arg in sorted(rule.arguments)
            ]
            if meta.get("query") is not None:
                parameters += _query_parameters(meta["query"], schemas)
            op: dict[str, Any] = {
                "operationId": f"{rule.endpoint}.{method.lower()}",
                "summary": doc[0] if doc else rule.endpoint,
                "tags": meta.get("tags") or [rule.endpoint.split(".")[0].replace("_api", "")],
                "parameters": parameters,
                "responses": _responses(
                    meta.get("responses") or {},
                    bool(meta.get("query") is not None or (takes_body and meta.get("body"))),
                    schemas,
                ),
            }
            if len(doc) > 1:
                op["description"] = "\n".join(line.strip() for line in doc[1:]).strip()
            if roles is not None:
                op["security"] = [{"bearer": []}]
                if roles:
                    op["x-roles"] = [str(r) for r in roles]
            if takes_body:
                op["requestBody"] = _request_body(meta, schemas)
            paths.setdefault(_path(rule.rule), {})[method.lower()] = op
    return schemas.resolve(
        {
            "openapi": "3.1.0",
            "info": {
                "title": "SunBid API",
                "version": "1",
                "description": "Public JSON API of SunBid (阳光招采). "
                "Errors: {error: {code, message, details}}; 422 names each field that does not fit.",
            },
            "servers": [{"url": "/"}],
            "paths": paths,
            "components": {
                "schemas": {},
                "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            },
        }
    )
