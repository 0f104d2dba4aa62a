"""Declared API input: one pydantic model per request body or query, validated before any service runs
and published, from the same declaration, in the OpenAPI document (ARCHITECTURE "Input").

How to declare a new endpoint's body and query
----------------------------------------------
1. In your package's ``schemas.py`` write a model per body (subclass :class:`Body`) and per query
   string (subclass :class:`Query`, or :class:`PageQuery` for a paginated list)::

       class QuestionBody(Body):
           text: Text[4000]                     # a required string, at most 4000 characters
           urgent: bool = False                 # optional; "false" (a string) is refused

       class TenderListQuery(PageQuery):
           q: Text[200] | None = None

2. Name them in the endpoint's ``@api_doc`` (below ``@roles_required``, so that callers without the
   role learn that first) and take them as keyword arguments::

       @bp.post("/tenders/<uuid:tender_id>/questions")
       @roles_required(Role.TENDERER)
       @api_doc(body=QuestionBody, responses={201: QuestionOut})
       def ask_question(tender_id: uuid.UUID, body: QuestionBody): ...

   A body that is not JSON, not an object, has a field of the wrong type (strict: no ``"1"`` for 1,
   no ``"false"`` for false, no 1.5 for a whole number), a value out of bounds or not in the enum, a
   string too long, or a field the model does not name, is answered ``422`` before the view runs::

       {"error": {"code": "invalid_input", "message": "<translated, naming each field>",
                  "details": {"fields": ["lots[0].estimated_price"],
                              "errors": [{"field": "lots[0].estimated_price", "in": "body",
                                          "type": "int_type", "message": "..."}]}}}

   Codes: ``invalid_json`` (not a JSON object), ``missing_fields`` (only required fields are missing;
   ``details.fields`` lists them), ``invalid_input`` (anything else). Paths count list items from 0.

3. The rules of the domain (dates against the calendar, amounts against the estimate, who may do what
   when) stay in the services: a model says what shape a request has, a service whether it may happen.

Query strings are strings: a :class:`Query` converts ``"2"`` to 2 for an ``int`` field, and refuses
``"x"``. A body that may also come as ``multipart/form-data`` (a file with fields) is declared with
``api_doc(body=..., form=True)``; form fields are strings too and are converted the same way.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from flask import Request
from flask_babel import lazy_gettext as _l
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)
from pydantic_core import ErrorDetails, PydanticCustomError
from werkzeug.datastructures import MultiDict

from core.errors import Invalid


def _no_nul(value: str) -> str:
    # Strings reach PostgreSQL text columns, which refuse NUL: no field takes one. Checked here rather
    # than as a schema pattern, which would slow every string's validation and generation tenfold.
    if "\x00" in value:
        raise PydanticCustomError("string_nul", "NUL characters are not allowed")
    return value


class _TextFactory:
    """``Text[n]``: a string of at most n characters without NUL; ``Text[1, n]``: and not empty."""

    def __getitem__(self, bounds: int | tuple[int, int]) -> Any:
        low, high = bounds if isinstance(bounds, tuple) else (0, bounds)
        return Annotated[str, StringConstraints(min_length=low, max_length=high), AfterValidator(_no_nul)]


Text = _TextFactory()
Time = AwareDatetime  # RFC 3339 with an offset; a time without one is refused
Id = uuid.UUID


class Body(BaseModel):
    """A JSON request body: strict types, no unknown fields."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, allow_inf_nan=False)

    def data(self) -> dict[str, Any]:
        """The fields the client sent, as JSON values: for services that read a mapping."""
        return self.model_dump(mode="json", exclude_unset=True)


class Query(BaseModel):
    """A query string: values arrive as strings and convert to the declared types, or are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)


MAX_PER_PAGE = 200


class PageQuery(Query):
    """``?page=&per_page=`` of a paginated list (API.md conventions)."""

    page: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    per_page: Annotated[int, Field(ge=1, le=MAX_PER_PAGE)] = 50


class Money(Body):
    """An amount in whole fen with its currency (ARCHITECTURE "Money": never floats)."""

    amount_fen: Annotated[int, Field(ge=0, le=10**15)]
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] = "CNY"


# -- response shapes the document publishes -----------------------------------------------------------


class Out(BaseModel):
    """A response object: the named fields are the contract, more may be added (API.md)."""

    model_config = ConfigDict(extra="allow")


class ErrorDetail(BaseModel):
    code: str = Field(description="stable snake_case code")
    message: str = Field(description="translated message")
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorOut(BaseModel):
    """Every 4xx answer: ``{"error": {"code", "message", "details"}}``."""

    error: ErrorDetail


class FieldError(BaseModel):
    field: str = Field(description="the field's path, list items counted from 0: lots[0].deposit")
    location: str = Field(alias="in", description="body or query")
    type: str = Field(description="what is wrong, as a stable code (pydantic's error type)")
    message: str = Field(description="translated sentence naming the field")


class InvalidDetails(BaseModel):
    model_config = ConfigDict(extra="allow")
    fields: list[str] = Field(description="the offending fields' paths")
    errors: list[FieldError] = Field(default_factory=list)


class InvalidDetail(ErrorDetail):
    code: str = Field(description="invalid_json, missing_fields or invalid_input")
    details: InvalidDetails  # type: ignore[assignment]


class InvalidOut(BaseModel):
    """422: the request does not fit the published schema; each offending field is named."""

    error: InvalidDetail


class ItemsOut(Out):
    items: list[dict[str, Any]]


class PageOut(ItemsOut):
    page: int
    per_page: int
    total: int


# -- validation ---------------------------------------------------------------------------------------


def field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


# Why a field was refused, by pydantic's error type; the rest read "is not valid".
_REASONS: dict[str, Any] = {
    "missing": _l("is required"),
    "extra_forbidden": _l("is not a field of this request"),
    "string_type": _l("must be text"),
    "int_type": _l("must be a whole number"),
    "int_parsing": _l("must be a whole number"),
    "int_from_float": _l("must be a whole number"),
    "float_type": _l("must be a number"),
    "float_parsing": _l("must be a number"),
    "bool_type": _l("must be true or false"),
    "bool_parsing": _l("must be true or false"),
    "list_type": _l("must be a list"),
    "dict_type": _l("must be an object"),
    "model_type": _l("must be an object"),
    "model_attributes_type": _l("must be an object"),
    "uuid_type": _l("must be an id (UUID)"),
    "uuid_parsing": _l("must be an id (UUID)"),
    "datetime_type": _l("must be a time in RFC 3339 with an offset"),
    "datetime_parsing": _l("must be a time in RFC 3339 with an offset"),
    "datetime_from_date_parsing": _l("must be a time in RFC 3339 with an offset"),
    "timezone_aware": _l("must be a time in RFC 3339 with an offset"),
    "date_type": _l("must be a date (YYYY-MM-DD)"),
    "date_parsing": _l("must be a date (YYYY-MM-DD)"),
    "date_from_datetime_parsing": _l("must be a date (YYYY-MM-DD)"),
    "date_from_datetime_inexact": _l("must be a date (YYYY-MM-DD)"),
    "string_pattern_mismatch": _l("has characters or a form it may not have"),
    "string_nul": _l("has characters or a form it may not have"),
    "union_tag_invalid": _l("is not one of the allowed kinds"),
}


def _reason(error: ErrorDetails) -> str:
    ctx = error.get("ctx") or {}
    kind = error["type"]
    if kind == "string_too_long":
        return str(_l("must be at most %(n)s characters", n=ctx.get("max_length")))
    if kind == "string_too_short":
        if ctx.get("min_length") == 1:
            return str(_l("may not be empty"))
        return str(_l("must be at least %(n)s characters", n=ctx.get("min_length")))
    if kind == "too_long":
        return str(_l("may have at most %(n)s items", n=ctx.get("max_length")))
    if kind == "too_short":
        return str(_l("needs at least %(n)s items", n=ctx.get("min_length")))
    if kind in ("greater_than_equal", "greater_than"):
        return str(_l("must be at least %(n)s", n=ctx.get("ge", ctx.get("gt"))))
    if kind in ("less_than_equal", "less_than"):
        return str(_l("must be at most %(n)s", n=ctx.get("le", ctx.get("lt"))))
    if kind in ("literal_error", "enum"):
        # pydantic says "'a', 'b' or 'c'": the list without the English word
        values = str(ctx.get("expected", "")).replace(" or ", ", ")
        return str(_l("must be one of: %(values)s", values=values))
    return str(_REASONS.get(kind, _l("is not valid")))


def _invalid(exc: ValidationError, location: str) -> Invalid:
    errors = exc.errors(include_url=False, include_input=False)
    if any(e["type"] == "json_invalid" for e in errors) or (
        location == "body" and any(not e["loc"] and e["type"] in ("model_type", "dict_type") for e in errors)
    ):
        return Invalid(_l("The request body must be a JSON object."), code="invalid_json")
    listed = []
    for error in errors[:20]:  # enough to act on; a flood of errors says nothing more
        path = field_path(error["loc"])
        listed.append({"field": path, "in": location, "type": error["type"], "message": _reason(error)})
    fields = list(dict.fromkeys(e["field"] for e in listed))
    sentences = "; ".join(f"{e['field']} {e['message']}" for e in listed)
    if all(e["type"] == "missing" for e in listed):
        message = _l("Required fields are missing: %(fields)s.", fields=", ".join(fields))
        return Invalid(message, code="missing_fields", details={"fields": fields, "errors": listed})
    message = _l("Check these fields: %(problems)s.", problems=sentences)
    return Invalid(message, code="invalid_input", details={"fields": fields, "errors": listed})


def parse_body(model: type[Body], request: Request, *, form: bool = False) -> Body:
    """The request's body as ``model``: JSON (strict), or multipart form fields where ``form`` allows."""
    try:
        if form and request.mimetype == "multipart/form-data":
            return model.model_validate(_flat(request.form, model), strict=False)
        raw = request.get_data(cache=True)
        if not raw.strip() and not takes_required(model):
            raw = b"{}"  # nothing sent where nothing is required: every field takes its default
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise _invalid(exc, "body") from None


def takes_required(model: type[BaseModel]) -> bool:
    return any(field.is_required() for field in model.model_fields.values())


def parse_query(model: type[Query], request: Request) -> Query:
    try:
        return model.model_validate(_flat(request.args, model))
    except ValidationError as exc:
        raise _invalid(exc, "query") from None


_LISTY = re.compile(r"^(list|tuple|set)\b|\blist\[")


def _flat(multi: MultiDict[str, str], model: type[BaseModel]) -> dict[str, Any]:
    """A MultiDict as the model expects it: a list where the field is a list, else the single value.
    An empty value stays an empty string (``?kind=`` is not one of the kinds): leave a field out to
    leave it out."""
    out: dict[str, Any] = {}
    for key in multi:
        field = model.model_fields.get(key)
        listy = field is not None and _LISTY.search(str(field.annotation)) is not None
        values = multi.getlist(key)
        out[key] = values if listy else values[-1]
    return out
