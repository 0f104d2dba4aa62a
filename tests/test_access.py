"""Every role against every endpoint: an API route that names its roles refuses everyone else.

Built from the URL map, so a route added later is covered without editing this test.
"""

import re
import uuid

import pytest

from core.roles import Role


def guarded_api_routes(app):
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        roles = getattr(view, "allowed_roles", None)
        if rule.rule.startswith("/api/v1/") and roles is not None:
            for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
                yield rule, method, roles


def concrete(rule) -> str:
    return re.sub(r"<[^>]+>", str(uuid.uuid4()), re.sub(r"<int:[^>]+>", "1", rule.rule))


def test_anonymous_callers_get_401_everywhere_a_role_is_needed(app, client):
    routes = list(guarded_api_routes(app))
    assert routes
    for rule, method, _roles in routes:
        response = client.open(concrete(rule), method=method, json={})
        assert response.status_code == 401, (method, rule.rule)
        assert response.get_json()["error"]["code"] == "unauthenticated"


def test_each_role_is_refused_where_it_is_not_listed(app, client, people, session):
    from accounts import services

    users = {role: people.user(role) for role in Role}
    checked = 0
    for rule, method, roles in guarded_api_routes(app):
        for role in Role:
            # A fresh token per call: some endpoints (DELETE /auth/token) revoke the one they get.
            token, _ = services.issue_token(session, users[role])
            session.commit()
            response = client.open(
                concrete(rule), method=method, json={}, headers={"Authorization": f"Bearer {token}"}
            )
            if roles and role not in roles:
                assert response.status_code == 403, (role, method, rule.rule)
                checked += 1
            else:
                assert response.status_code not in (401, 403), (role, method, rule.rule, response.get_json())
    assert checked > 0


@pytest.mark.parametrize(
    ("path", "role", "status"),
    [
        ("/audit/", Role.TENDERER, 403),
        ("/audit/", Role.AGENCY, 403),
        ("/audit/", Role.SUPERVISOR, 200),
        ("/admin/users", Role.SUPERVISOR, 403),
        ("/admin/users", Role.ADMIN, 200),
        ("/dashboard", Role.EXPERT, 200),
    ],
)
def test_pages_by_role(client, people, path, role, status):
    from tests.factories import PASSWORD

    user = people.user(role)
    client.post("/sign-in", data={"username": user.username, "password": PASSWORD})
    if user.username in people.secrets:
        client.post("/sign-in/code", data={"code": people.code(user)})
    assert client.get(path).status_code == status


def test_pages_need_sign_in(client):
    for path in ("/dashboard", "/account", "/audit/", "/admin/users"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")
