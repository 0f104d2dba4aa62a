"""API input is validated against the schema the OpenAPI document publishes (issue 13, item 1;
ARCHITECTURE "Input"): strict types, bounds and enums, 422 naming each field in the caller's language,
nothing written; the document shows the very models that are enforced."""

from __future__ import annotations

import inspect
import uuid

import pytest
from sqlalchemy import func, select

from audit.models import AuditEntry
from bidding.models import Tender
from core.roles import Role


@pytest.fixture
def agency(client, people):
    agent = people.user(Role.AGENCY)
    tenderee = people.org("tenderee")
    return {"Authorization": f"Bearer {people.token(client, agent)}"}, tenderee


def tender_body(tenderee, **changes) -> dict:
    body = {
        "title": "市政道路改造工程",
        "category": "施工",
        "tenderee_id": str(tenderee.id),
        "estimated_price": {"amount_fen": 500_000_000, "currency": "CNY"},
    }
    return body | changes


def nothing_written(session) -> bool:
    session.rollback()  # see what the requests committed
    drafted = (
        select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "bidding.tender_drafted")
    )
    return session.scalar(select(func.count()).select_from(Tender)) == 0 and session.scalar(drafted) == 0


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"lots": [1, 2]}, ["lots[0]", "lots[1]"]),  # was a 500 (bidding/services.py parse_tender)
        ({"timeline": ["2027-01-01T09:00:00+08:00"]}, ["timeline"]),  # was a 500
        ({"state_controlled": "false"}, ["state_controlled"]),  # was stored as true, flipping R-A2
        ({"estimated_price": {"amount_fen": 1.5}}, ["estimated_price.amount_fen"]),  # whole fen only
        ({"estimated_price": {"amount_fen": "100"}}, ["estimated_price.amount_fen"]),
        ({"track": "services"}, ["track"]),
        ({"title": "x" * 201}, ["title"]),
        ({"timeline": {"bid_deadline": "2027-01-01T09:00:00"}}, ["timeline.bid_deadline"]),  # no offset
        ({"titel": "typo"}, ["titel"]),  # an unknown field is refused, not ignored
        ({"tenderee_id": 5}, ["tenderee_id"]),
    ],
)
def test_a_tender_body_off_its_schema_is_a_422_naming_the_field_and_writes_nothing(
    client, session, agency, changes, fields
):
    headers, tenderee = agency
    response = client.post("/api/v1/tenders", json=tender_body(tenderee, **changes), headers=headers)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_input"
    assert error["details"]["fields"] == fields
    assert all(e["in"] == "body" and e["type"] for e in error["details"]["errors"])
    assert all(field in error["message"] for field in fields)
    assert nothing_written(session)


def test_state_controlled_is_stored_as_sent_r_a2(client, session, agency):
    # R-A2: a state-controlled tender must award the first candidate; only a JSON boolean says so.
    headers, tenderee = agency
    for sent in (False, True):
        response = client.post(
            "/api/v1/tenders", json=tender_body(tenderee, state_controlled=sent), headers=headers
        )
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["state_controlled"] is sent


@pytest.mark.parametrize(
    ("role", "path", "body", "field"),
    [
        (Role.AGENCY, "/tenders/{id}/publish", {"supervisor": 5}, "supervisor"),  # were 500s (issue 12, 7)
        (Role.TENDERER, "/tenders/{id}/objections", {"stage": "documents", "text": 5}, "text"),
        (Role.AGENCY, "/tenders/{id}/amendments", {"title": ["x"]}, "title"),
        (Role.TENDERER, "/tenders/{id}/deposits", {"kind": "money", "lot": True, "amount": {}}, "lot"),
        (Role.EXPERT, "/calls/{id}/answer", {"accept": "yes"}, "accept"),
        (Role.SUPERVISOR, "/experts/{id}/reviews", {"tender": "t", "punctuality": 6}, "tender"),
        (Role.AGENCY, "/tenders/{id}/opening/close", {"no_fault": []}, "no_fault"),
    ],
)
def test_bad_types_anywhere_are_422s_before_any_lookup(client, people, role, path, body, field):
    user = people.user(role)
    headers = {"Authorization": f"Bearer {people.token(client, user)}"}
    response = client.post("/api/v1" + path.format(id=uuid.uuid4()), json=body, headers=headers)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "invalid_input" and field in error["details"]["fields"]


def test_the_message_names_the_field_in_the_callers_language(client, agency):
    headers, tenderee = agency
    body = tender_body(tenderee, state_controlled="false")
    english = client.post("/api/v1/tenders", json=body, headers=headers | {"Accept-Language": "en"})
    chinese = client.post("/api/v1/tenders", json=body, headers=headers | {"Accept-Language": "zh-CN"})
    assert (
        english.get_json()["error"]["message"]
        == "Check these fields: state_controlled must be true or false."
    )
    assert chinese.get_json()["error"]["message"] == "请检查以下字段：state_controlled 须为 true 或 false。"
    assert chinese.get_json()["error"]["code"] == english.get_json()["error"]["code"] == "invalid_input"


def test_missing_fields_and_a_body_that_is_not_an_object_keep_their_codes(client, agency):
    headers, _tenderee = agency
    missing = client.post("/api/v1/tenders", json={"title": "只有标题的项目"}, headers=headers)
    assert missing.status_code == 422
    assert missing.get_json()["error"]["code"] == "missing_fields"
    assert missing.get_json()["error"]["details"]["fields"] == ["category", "tenderee_id", "estimated_price"]
    for raw, content_type in (("[1, 2]", "application/json"), ("{", "application/json"), ("", "text/plain")):
        response = client.post("/api/v1/tenders", data=raw, content_type=content_type, headers=headers)
        assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("query", "field"),
    [("per_page=0", "per_page"), ("per_page=201", "per_page"), ("page=x", "page"), ("unknown=1", "unknown")],
)
def test_queries_are_validated_too(client, query, field):
    response = client.get(f"/api/v1/tenders?{query}")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["details"]["fields"] == [field] and error["details"]["errors"][0]["in"] == "query"


def test_a_valid_query_is_converted(client):
    body = client.get("/api/v1/tenders?page=2&per_page=5&q=道路").get_json()
    assert (body["page"], body["per_page"], body["total"]) == (2, 5, 0)


def test_the_document_publishes_the_models_that_are_enforced(client):
    from bidding.schemas import TenderBody

    spec = client.get("/api/v1/openapi.json").get_json()
    operation = spec["paths"]["/api/v1/tenders"]["post"]
    ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    published = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert published["additionalProperties"] is False
    assert published["properties"]["state_controlled"]["type"] == "boolean"
    assert set(published["properties"]) == set(TenderBody.model_fields)
    assert set(published["required"]) == {"title", "category", "tenderee_id", "estimated_price"}
    assert "422" in operation["responses"] and "default" in operation["responses"]
    listing = spec["paths"]["/api/v1/tenders"]["get"]
    per_page = next(p for p in listing["parameters"] if p["name"] == "per_page")
    assert per_page["in"] == "query" and per_page["schema"]["maximum"] == 200


def test_every_api_route_goes_through_the_validation_layer(app):
    """A new endpoint cannot skip the mechanism: it must be declared with api_doc, and API modules
    read no body or query by hand (multipart file fields excepted)."""
    undeclared = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/") and not hasattr(app.view_functions[rule.endpoint], "openapi")
    ]
    assert undeclared == []
    modules = {inspect.getmodule(app.view_functions[r.endpoint]) for r in app.url_map.iter_rules()}
    for module in modules:
        if module is None or not any(
            getattr(app.view_functions[r.endpoint], "__module__", "") == module.__name__
            and r.rule.startswith("/api/v1/")
            for r in app.url_map.iter_rules()
        ):
            continue
        source = inspect.getsource(module)
        for by_hand in ("get_json(", "request.json", "request.args"):
            assert by_hand not in source, (module.__name__, by_hand)


def test_a_draft_with_lots_can_be_replaced_again(client, agency):
    # Found by the latency bench: the second PATCH inserted lot 1 before deleting the old lot 1 (500).
    headers, tenderee = agency
    lot = {"name": "第一标段", "estimated_price": {"amount_fen": 100_000_000}}
    body = tender_body(tenderee, lots=[lot, lot | {"name": "第二标段"}])
    tender = client.post("/api/v1/tenders", json=body, headers=headers).get_json()
    for names in (["甲", "乙"], ["丙"]):
        again = tender_body(tenderee, lots=[lot | {"name": name} for name in names])
        response = client.patch(f"/api/v1/tenders/{tender['id']}", json=again, headers=headers)
        assert response.status_code == 200, response.get_json()
        assert [lot["name"] for lot in response.get_json()["lots"]] == names
