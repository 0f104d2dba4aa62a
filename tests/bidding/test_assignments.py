"""Rights per person on a tender (issue 12, item 6): the agency staff assigned to a tender run it, the
supervisors assigned to it oversee it; a colleague in the same organisation who is not assigned has no
more rights than the public. Checked against every tender endpoint from the URL map, so an endpoint
added later is covered without editing this test."""

import re
import uuid
from datetime import timedelta

from core import clock
from core.roles import Role
from tests.bidding.test_tenders import auth

TENDER_ROUTE = re.compile(r"^/api/v1/tenders/<uuid:tender_id>/")


def tender_routes(app):
    for rule in app.url_map.iter_rules():
        if TENDER_ROUTE.match(rule.rule):
            view = app.view_functions[rule.endpoint]
            public = getattr(view, "openapi", {}).get("public", False)
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield rule, method, public


def sample(schema: dict | None, defs: dict | None = None):
    """A body of the right shape for a JSON schema (required fields of the right types), so that a
    refusal is about who asks, not about what was sent."""
    schema = schema or {}
    defs = defs if defs is not None else schema.get("$defs", {})
    if "$ref" in schema:
        return sample(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o.get("type") != "null"]
        return sample(options[0], defs)
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type", "object")
    if kind == "object":
        props = schema.get("properties", {})
        out = {name: sample(props.get(name), defs) for name in schema.get("required", [])}
        extra = schema.get("additionalProperties")
        for n in range(schema.get("minProperties", 0) if isinstance(extra, dict) else 0):
            out[f"k{n}"] = sample(extra, defs)
        return out
    if kind == "string":
        if schema.get("format") == "date-time":
            return "2027-01-01T09:00:00+08:00"
        if schema.get("format") == "uuid":
            return str(uuid.uuid4())
        return "x" * max(1, schema.get("minLength", 1))
    if kind == "array":
        return [sample(schema.get("items"), defs) for _ in range(schema.get("minItems", 0))]
    return {"integer": max(1, schema.get("minimum", 1)), "number": 1, "boolean": True}.get(kind, "x")


def concrete(rule, tender_id) -> str:
    path = rule.rule.replace("<uuid:tender_id>", str(tender_id))
    return re.sub(r"<[^>]+>", str(uuid.uuid4()), path)


def _call(app, client, rule, method, tender, headers=None):
    model = (getattr(app.view_functions[rule.endpoint], "openapi", None) or {}).get("body")
    body = sample(model.model_json_schema()) if model is not None else {}
    return client.open(concrete(rule, tender.id), method=method, json=body, headers=headers or {})


def test_an_unassigned_colleague_of_the_agency_has_no_more_rights_than_a_stranger(
    app, client, people, cast, tender
):
    colleague = people.user(Role.AGENCY, "agency2", org=cast["agent"].organization)
    stranger = people.user(Role.AGENCY, "other-agency-staff")  # another agency altogether
    refused = 0
    for when in (tender.documents_from + timedelta(hours=2), tender.bid_deadline + timedelta(hours=1)):
        clock.freeze(when)
        for rule, method, _public in tender_routes(app):
            mine = _call(app, client, rule, method, tender, auth(people, client, colleague))
            theirs = _call(app, client, rule, method, tender, auth(people, client, stranger))
            clock.advance(timedelta(seconds=31))
            if method == "GET" and theirs.status_code == 200:
                assert mine.status_code == 200 and mine.get_json() == theirs.get_json(), (
                    rule.rule,
                    mine.get_json(),
                )
            else:
                assert mine.status_code in (401, 403, 404), (method, rule.rule, mine.get_json())
                refused += 1
    assert refused > 20


def test_the_assigned_agent_is_not_refused_for_want_of_an_assignment(app, client, people, cast, tender):
    for rule, method, _public in tender_routes(app):
        response = _call(app, client, rule, method, tender, auth(people, client, cast["agent"]))
        clock.advance(timedelta(seconds=31))
        body = response.get_json(silent=True) or {}
        assert body.get("error", {}).get("code") != "not_assigned", (method, rule.rule)


def test_only_the_assigned_supervisor_oversees(app, client, people, cast, session, tender):
    other = people.user(Role.SUPERVISOR, "elsewhere")
    clock.freeze(tender.bid_deadline + timedelta(hours=1))
    for path in ("deposits", "bids", "downloads"):
        own = client.get(
            f"/api/v1/tenders/{tender.id}/{path}", headers=auth(people, client, cast["supervisor"])
        )
        assert own.status_code == 200, (path, own.get_json())
        stranger = client.get(f"/api/v1/tenders/{tender.id}/{path}", headers=auth(people, client, other))
        assert stranger.status_code in (403, 404), path
        clock.advance(timedelta(seconds=31))


def test_the_agent_assigns_a_colleague_from_the_tender_page(app, people, cast, session, tender):
    from tests.factories import PASSWORD

    colleague = people.user(Role.AGENCY, "new-colleague", org=cast["agent"].organization)
    outsider = people.user(Role.AGENCY, "other-agency")
    page_client = app.test_client()
    page_client.post("/sign-in", data={"username": cast["agent"].username, "password": PASSWORD})
    page_client.post("/sign-in/code", data={"code": people.code(cast["agent"])})
    page = page_client.get(f"/tenders/{tender.id}").get_data(as_text=True)
    assert 'id="team"' in page and "new-colleague" in page and "other-agency" not in page
    csrf = page.split('name="csrf_token" value="')[1].split('"')[0]
    page_client.post(f"/tenders/{tender.id}/team", data={"csrf_token": csrf, "username": "new-colleague"})
    clock.advance(timedelta(seconds=31))
    # The colleague now acts on the tender; the other agency's staff still cannot be assigned.
    answered = people.token(app.test_client(), colleague)
    team = page_client.get(
        f"/api/v1/tenders/{tender.id}/team", headers={"Authorization": f"Bearer {answered}"}
    )
    assert {m["username"] for m in team.get_json()["items"]} >= {cast["agent"].username, "new-colleague"}
    refused = page_client.post(
        f"/api/v1/tenders/{tender.id}/team",
        json={"username": outsider.username},
        headers={"Authorization": f"Bearer {answered}"},
    )
    assert refused.status_code in (403, 422)
