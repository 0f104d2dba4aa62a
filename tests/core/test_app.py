"""App-wide behaviour: CSRF on every form, the OpenAPI document, error shapes, health (issue 2)."""

import re
import uuid

import pytest

from core.app import create_app


@pytest.fixture
def csrf_app(config):
    from tests.conftest import IsolatedClient

    app = create_app({**config, "WTF_CSRF_ENABLED": True})
    app.test_client_class = IsolatedClient
    return app


def html_post_rules(app):
    for rule in app.url_map.iter_rules():
        if "POST" in (rule.methods or ()) and not rule.rule.startswith("/api/"):
            yield rule


def fill(rule) -> str:
    return re.sub(r"<(?:uuid:)?[^>]+>", str(uuid.uuid4()), rule.rule)


def test_every_form_post_needs_a_csrf_token(csrf_app):
    client = csrf_app.test_client()
    rules = list(html_post_rules(csrf_app))
    assert len(rules) >= 8  # sign-in, code, enrol, sign-out, register, password, tokens, language, audit...
    for rule in rules:
        response = client.post(fill(rule), data={"anything": "1"})
        assert response.status_code == 400, rule.rule
        assert "csrf" in response.get_data(as_text=True).lower() or "表单" in response.get_data(as_text=True)


def test_sign_in_form_works_with_its_token(csrf_app):
    client = csrf_app.test_client()
    page = client.get("/sign-in").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/sign-in", data={"csrf_token": token, "username": "nobody", "password": "x"})
    assert response.status_code == 401  # past CSRF, refused on credentials


def test_openapi_lists_the_api_with_roles(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    assert "/api/v1/auth/token" in spec["paths"] and "/api/v1/audit/proofs/consistency" in spec["paths"]
    entries = spec["paths"]["/api/v1/audit/entries"]["get"]
    assert entries["x-roles"] == ["supervisor"]
    assert "requestBody" in spec["paths"]["/api/v1/auth/token"]["post"]
    docs = client.get("/api/docs", headers={"Accept-Language": "en"})
    assert docs.status_code == 200 and "/api/v1/auth/token" in docs.get_data(as_text=True)


def test_html_404_is_a_page_and_api_404_is_json(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"
    api = client.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.get_json()["error"]["code"] == "not_found"


def test_method_not_allowed_is_json_for_the_api(client):
    response = client.put("/api/v1/auth/token", json={})
    assert response.status_code == 405 and response.get_json()["error"]["code"] == "method_not_allowed"


def test_health(client):
    assert client.get("/healthz").get_json()["status"] == "ok"


def test_production_refuses_to_start_without_secrets(monkeypatch, tmp_path):
    monkeypatch.setenv("SUNBID_ENV", "production")
    monkeypatch.setenv("SUNBID_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="SUNBID_SECRET_KEY"):
        create_app()
    monkeypatch.setenv("SUNBID_SANDBOX", "1")
    with pytest.raises(RuntimeError, match="SANDBOX"):
        create_app()
