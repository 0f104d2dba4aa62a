"""Sign-in pages with the second factor, registration and settings (issue 2 items 4 and 6)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from accounts.models import User
from audit.models import AuditEntry
from core import clock
from core.roles import Role
from tests.factories import PASSWORD


def sign_in(client, username, password=PASSWORD):
    return client.post("/sign-in", data={"username": username, "password": password})


def test_sign_in_page_in_chinese_and_english(client):
    zh = client.get("/sign-in", headers={"Accept-Language": "zh-CN"})
    assert zh.status_code == 200 and "登录" in zh.get_data(as_text=True)
    en = client.get("/sign-in", headers={"Accept-Language": "en"})
    assert "Sign in" in en.get_data(as_text=True) and "登录" not in en.get_data(as_text=True)


def test_language_switch_sticks_for_the_session(client):
    client.post("/lang/en", data={"next": "/sign-in"})
    assert "User name" in client.get("/sign-in", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    client.post("/lang/zh_CN", data={"next": "/sign-in"})
    assert "用户名" in client.get("/sign-in").get_data(as_text=True)


def test_language_switch_does_not_redirect_off_site(client):
    response = client.post("/lang/en", data={"next": "//evil.example/"})
    assert response.headers["Location"] == "/"


def test_tenderer_signs_in_with_password_only(client, people):
    people.user(Role.TENDERER, "tenderer-1")
    response = sign_in(client, "tenderer-1")
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200


@pytest.mark.parametrize("role", [Role.AGENCY, Role.EXPERT, Role.SUPERVISOR, Role.ADMIN])
def test_roles_with_second_factor_need_the_code(client, people, session, role):
    user = people.user(role)
    response = sign_in(client, user.username)
    assert response.headers["Location"] == "/sign-in/code"
    assert client.get("/dashboard").status_code == 302  # not signed in yet
    wrong = client.post(
        "/sign-in/code", data={"code": "999999" if people.code(user) != "999999" else "111111"}
    )
    assert wrong.status_code == 401
    ok = client.post("/sign-in/code", data={"code": people.code(user)})
    assert ok.headers["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200
    methods = session.scalars(select(AuditEntry.action).where(AuditEntry.actor_id == user.id)).all()
    assert "accounts.signed_in" in methods


def test_replayed_code_is_refused_in_the_page(client, people):
    user = people.user(Role.AGENCY, "a-replay")
    code = people.code(user)
    sign_in(client, user.username)
    client.post("/sign-in/code", data={"code": code})
    client.post("/sign-out")
    sign_in(client, user.username)
    response = client.post("/sign-in/code", data={"code": code})
    assert response.status_code == 401
    assert "already used" in response.get_data(as_text=True) or "已使用" in response.get_data(as_text=True)


def test_new_staff_must_enrol_before_the_session_starts(client, people, session):
    user = people.user(Role.SUPERVISOR, "sup-new", with_totp=False)
    response = sign_in(client, "sup-new")
    assert response.headers["Location"] == "/sign-in/enrol"
    page = client.get("/sign-in/enrol").get_data(as_text=True)
    assert "data:image/svg+xml" in page
    from accounts import services, totp

    session.rollback()  # end the test's snapshot to see what the requests wrote
    session.refresh(user)
    secret = services.pending_totp_secret(user)
    assert secret and secret in page
    ok = client.post("/sign-in/enrol", data={"code": totp.code_at(secret)})
    # The new authenticator comes with one-time recovery codes, shown once, then on to the dashboard.
    page = ok.get_data(as_text=True)
    assert ok.status_code == 200 and page.count('<code translate="no">') == 10
    assert 'href="/dashboard" id="recovery-continue"' in page
    assert client.get("/dashboard").status_code == 200
    session.rollback()
    session.refresh(user)
    assert user.totp_enabled and user.totp_pending_secret is None


def test_register_page_refuses_bad_credit_code_with_message(client, session):
    response = client.post(
        "/register",
        data={
            "org_name": "测试公司",
            "credit_code": "91350100M000100Y44",
            "username": "newco",
            "display_name": "新",
            "email": "n@example.cn",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert "not a valid unified social credit code" in response.get_data(as_text=True)
    assert session.scalar(select(User).where(User.username == "newco")) is None


def test_register_then_sign_in(client):
    response = client.post(
        "/register",
        data={
            "org_name": "测试公司",
            "credit_code": "91350100M000100Y43",
            "username": "newco",
            "display_name": "新",
            "email": "n@example.cn",
            "password": PASSWORD,
            "confirm": PASSWORD,
        },
    )
    assert response.headers["Location"] == "/sign-in"
    assert sign_in(client, "newco").headers["Location"] == "/dashboard"


def test_password_change_signs_out_other_sessions(app, people):
    people.user(Role.TENDERER, "two-sessions")
    first, second = app.test_client(), app.test_client()
    sign_in(first, "two-sessions")
    sign_in(second, "two-sessions")
    response = first.post(
        "/account/password",
        data={"pw-old": PASSWORD, "pw-new": "Another-pass-88", "pw-confirm": "Another-pass-88"},
    )
    assert response.status_code == 302
    assert first.get("/account").status_code == 200
    assert second.get("/account").status_code == 302  # its cookie no longer works


def test_token_created_in_settings_is_shown_once_and_works(client, people):
    people.user(Role.TENDERER, "tok")
    sign_in(client, "tok")
    page = client.post("/account/tokens", data={"tok-name": "bidtool"}).get_data(as_text=True)
    token = page.split('id="new-token">')[1].split("<")[0]
    assert token.startswith("sbt_")
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert token not in client.get("/account").get_data(as_text=True)


def test_pending_second_factor_expires(client, people):
    user = people.user(Role.AGENCY, "slow")
    sign_in(client, "slow")
    clock.advance(timedelta(minutes=6))
    response = client.post("/sign-in/code", data={"code": people.code(user)})
    assert response.headers["Location"] == "/sign-in"


def test_security_headers_and_cookie_flags(client, people):
    people.user(Role.TENDERER, "hdr")
    response = sign_in(client, "hdr")
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/dashboard")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"


def test_sign_in_is_rate_limited_per_address(app, client):
    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    statuses = [sign_in(client, "nobody", "x").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]
