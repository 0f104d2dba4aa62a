"""Accounts API: tokens with the second factor, registration, error shapes (issue 2, API.md)."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from audit.models import AuditEntry
from core import clock
from core.roles import Role
from tests.factories import PASSWORD


def test_token_for_tenderer_and_me(client, people):
    people.user(Role.TENDERER, "api-t")
    response = client.post("/api/v1/auth/token", json={"username": "api-t", "password": PASSWORD})
    assert response.status_code == 201
    body = response.get_json()
    assert body["token"].startswith("sbt_") and body["expires_at"]
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"}).get_json()
    assert me["username"] == "api-t" and me["organization"]["kind"] == "tenderer"


def test_token_needs_totp_for_agency_and_refuses_replay(client, people):
    user = people.user(Role.AGENCY, "api-a")
    no_code = client.post("/api/v1/auth/token", json={"username": "api-a", "password": PASSWORD})
    assert no_code.status_code == 401 and no_code.get_json()["error"]["code"] == "totp_required"
    code = people.code(user)
    assert (
        client.post(
            "/api/v1/auth/token", json={"username": "api-a", "password": PASSWORD, "totp": code}
        ).status_code
        == 201
    )
    replay = client.post("/api/v1/auth/token", json={"username": "api-a", "password": PASSWORD, "totp": code})
    assert replay.status_code == 401 and replay.get_json()["error"]["code"] == "totp_replayed"


def test_expired_and_revoked_tokens_have_their_own_codes(app, client, people):
    user = people.user(Role.TENDERER, "api-exp")
    token = people.token(client, user)
    auth = {"Authorization": f"Bearer {token}"}
    assert client.delete("/api/v1/auth/token", headers=auth).status_code == 204
    assert client.get("/api/v1/me", headers=auth).get_json()["error"]["code"] == "token_revoked"
    token = people.token(client, user)
    clock.advance(timedelta(days=app.config["API_TOKEN_DAYS"], seconds=1))
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "token_expired"


def test_api_ignores_session_cookies(client, people):
    people.user(Role.TENDERER, "cookie")
    client.post("/sign-in", data={"username": "cookie", "password": PASSWORD})
    assert client.get("/dashboard").status_code == 200
    response = client.get("/api/v1/me")
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthenticated"


def test_register_organization_api(client, session):
    body = {
        "name": "南方测试有限公司",
        "credit_code": "91440300708461136T",
        "user": {"username": "south", "password": PASSWORD, "email": "s@example.cn", "display_name": "南"},
    }
    response = client.post("/api/v1/organizations", json=body)
    assert response.status_code == 201 and response.get_json()["organization"]["verified"] is False
    # A second claim to the same code is registered too, and the answer does not tell that the code was
    # taken: the centre decides between the claims on their licences (accounts.verification).
    rival = {**body, "user": {**body["user"], "username": "south2", "email": "t@example.cn"}}
    again = client.post("/api/v1/organizations", json=rival)
    assert again.status_code == 201 and again.get_json()["organization"]["verified"] is False
    assert again.get_json()["organization"]["id"] != response.get_json()["organization"]["id"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (
            {
                "name": "x公司",
                "credit_code": "123",
                "user": {"username": "user1", "password": PASSWORD, "email": "a@b.cn"},
            },
            422,
            "invalid_credit_code",
        ),
        (
            {
                "name": "x公司",
                "credit_code": "91440300708461136T",
                "user": {"username": "user1", "password": "weak", "email": "a@b.cn"},
            },
            422,
            "weak_password",
        ),
        ({"name": "x公司"}, 422, "missing_fields"),
    ],
)
def test_bad_registration_gets_stable_code_and_changes_nothing(client, session, body, status, code):
    response = client.post("/api/v1/organizations", json=body)
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    assert session.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_non_json_body_is_422_not_500(client):
    response = client.post("/api/v1/auth/token", data="nonsense", content_type="text/plain")
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "invalid_json"


def test_errors_are_translated(client):
    response = client.post(
        "/api/v1/auth/token",
        json={"username": "nobody", "password": "x"},
        headers={"Accept-Language": "zh-CN"},
    )
    assert response.get_json()["error"]["code"] == "invalid_credentials"
    assert "用户名或密码" in response.get_json()["error"]["message"]


def test_unknown_api_path_is_json_404(client):
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_sandbox_clock_is_404_outside_sandbox(client, people):
    admin = people.user(Role.ADMIN, "root")
    token = people.token(client, admin)
    response = client.post(
        "/api/v1/sandbox/clock",
        json={"now": "2027-01-01T00:00:00+08:00"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 404


def test_sandbox_clock_moves_time_for_admins_only(app, client, people):
    app.config["SANDBOX"] = True
    clock.freeze(None)
    admin, tenderer = people.user(Role.ADMIN, "root2"), people.user(Role.TENDERER, "t-clock")
    t_token = people.token(client, tenderer)
    refused = client.post(
        "/api/v1/sandbox/clock",
        json={"now": "2027-01-01T00:00:00+08:00"},
        headers={"Authorization": f"Bearer {t_token}"},
    )
    assert refused.status_code == 403
    a_token = people.token(client, admin)
    moved = client.post(
        "/api/v1/sandbox/clock",
        json={"now": "2027-01-01T00:00:00+08:00"},
        headers={"Authorization": f"Bearer {a_token}"},
    )
    assert moved.status_code == 200 and moved.get_json()["now"].startswith("2026-12-31T16:00")
    health = client.get("/healthz").get_json()
    assert health["time"].startswith("2026-12-31T16:0")
