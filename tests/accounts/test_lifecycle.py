"""Running a centre's people (issue 14, items 1 and 2): organisations onboarded by the centre, people
added inside them, edited, disabled and enabled, unlocked, their second factor reset with a reason or
stood in for by one-time recovery codes, and a password an administrator chose replaced at first use."""

import re
from datetime import timedelta

from sqlalchemy import select

from accounts.models import ApiToken, Organization, User
from audit.models import AuditEntry
from core import clock
from core.roles import Role
from demo.accounts import credit_code
from tests.bidding.test_tenders import auth
from tests.factories import PASSWORD

FIRST = "Admin-chosen-77"
OWN = "My-own-horse-88"


def csrf(client, url) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(url).get_data(as_text=True)).group(1)


def test_the_centre_onboards_an_agency_and_its_person_who_chooses_a_password(app, client, people, session):
    admin = people.user(Role.ADMIN, "centre")
    headers = auth(people, client, admin)
    code = credit_code("110105", 60000001)
    created = client.post(
        "/api/v1/admin/organizations",
        json={"kind": "agency", "name": "华诚招标代理有限公司", "credit_code": code},
        headers=headers,
    )
    assert created.status_code == 201 and created.get_json()["verified"] is True
    again = client.post(
        "/api/v1/admin/organizations",
        json={"kind": "agency", "name": "另一家", "credit_code": code},
        headers=headers,
    )
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "duplicate_credit_code"
    bad = client.post(
        "/api/v1/admin/organizations",
        json={"kind": "agency", "name": "坏代码", "credit_code": "91110000000000000X"},
        headers=headers,
    )
    assert bad.status_code == 422 and bad.get_json()["error"]["details"]["field"] == "credit_code"
    person = client.post(
        "/api/v1/admin/users",
        json={
            "organization": created.get_json()["id"],
            "role": "agency",
            "username": "hc-agent",
            "display_name": "代理 孙敏",
            "email": "sun@hc.cn",
            "password": FIRST,
        },
        headers=headers,
    )
    assert person.status_code == 201 and person.get_json()["must_change_password"] is True
    # The API gives no token until the person has chosen their own password on the web.
    token = client.post("/api/v1/auth/token", json={"username": "hc-agent", "password": FIRST})
    assert token.status_code in (401, 403)
    page = app.test_client()
    page.post("/sign-in", data={"username": "hc-agent", "password": FIRST})
    assert page.get("/sign-in/enrol").status_code == 200  # agency staff set up the second factor first
    assert page.get("/dashboard").status_code == 302


def test_a_person_must_replace_the_password_an_administrator_set(app, people, session):
    admin = people.user(Role.ADMIN, "centre2")
    org = people.org("tenderer", "县建筑公司")
    from accounts import services

    user = services.create_user(
        session,
        admin,
        username="clerk",
        display_name="办事员",
        email="c@x.cn",
        role=Role.TENDERER,
        password=FIRST,
        organization=org,
    )
    session.commit()
    assert user.must_change_password
    client = app.test_client()
    response = client.post("/sign-in?next=/tenders", data={"username": "clerk", "password": FIRST})
    assert response.headers["Location"] == "/account/password/first"
    assert client.get("/dashboard").headers["Location"] == "/account/password/first"  # every page leads there
    weak = client.post(
        "/account/password/first",
        data={"csrf_token": csrf(client, "/account/password/first"), "new": "short", "confirm": "short"},
    )
    assert weak.status_code == 200 and client.get("/dashboard").status_code == 302
    done = client.post(
        "/account/password/first",
        data={"csrf_token": csrf(client, "/account/password/first"), "new": OWN, "confirm": OWN},
    )
    assert done.headers["Location"] == "/tenders"
    assert client.get("/dashboard").status_code == 200
    session.refresh(user)
    assert not user.must_change_password


def test_disabling_ends_sessions_and_tokens_at_once_and_enabling_needs_a_reason(app, client, people, session):
    admin = people.user(Role.ADMIN, "centre3")
    user = people.user(Role.TENDERER, "to-disable")
    browser = app.test_client()
    browser.post("/sign-in", data={"username": "to-disable", "password": PASSWORD})
    token = {"Authorization": f"Bearer {people.token(app.test_client(), user)}"}
    assert (
        browser.get("/dashboard").status_code == 200
        and client.get("/api/v1/me", headers=token).status_code == 200
    )
    headers = auth(people, client, admin)
    no_reason = client.post(f"/api/v1/admin/users/{user.id}/disable", json={"reason": ""}, headers=headers)
    assert no_reason.status_code == 422
    disabled = client.post(f"/api/v1/admin/users/{user.id}/disable", json={"reason": "离职"}, headers=headers)
    assert disabled.status_code == 200 and disabled.get_json()["active"] is False
    assert browser.get("/dashboard").status_code == 302
    assert client.get("/api/v1/me", headers=token).status_code == 401
    session.rollback()
    assert all(t.revoked_at for t in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)))
    refused = app.test_client().post("/sign-in", data={"username": "to-disable", "password": PASSWORD})
    assert refused.status_code == 401  # the same answer as a wrong password
    clock.advance(timedelta(seconds=31))
    enabled = client.post(f"/api/v1/admin/users/{user.id}/enable", json={"reason": "复职"}, headers=headers)
    assert enabled.status_code == 200
    assert (
        app.test_client().post("/sign-in", data={"username": "to-disable", "password": PASSWORD}).status_code
        == 302
    )


def test_deactivating_an_organisation_disables_its_people(client, people, session):
    admin = people.user(Role.ADMIN, "centre4")
    agent = people.user(Role.AGENCY, "deact-agent")
    headers = auth(people, client, admin)
    response = client.post(
        f"/api/v1/admin/organizations/{agent.organization_id}/deactivate",
        json={"reason": "资质吊销"},
        headers=headers,
    )
    assert response.status_code == 200 and response.get_json()["active"] is False
    session.refresh(agent)
    assert not agent.active
    clock.advance(timedelta(seconds=31))
    client.post(
        f"/api/v1/admin/organizations/{agent.organization_id}/activate",
        json={"reason": "恢复资质"},
        headers=headers,
    )
    session.rollback()  # a fresh snapshot: the requests committed in their own sessions
    assert session.get(Organization, agent.organization_id).active and not session.get(User, agent.id).active


def test_an_administrator_unlocks_a_person_throttled_from_their_address(app, client, people, session, wall):
    admin = people.user(Role.ADMIN, "centre5")
    people.user(Role.TENDERER, "forgetful")
    browser = app.test_client()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        browser.post("/sign-in", data={"username": "forgetful", "password": "Wrong-guess-11"})
    assert browser.post("/sign-in", data={"username": "forgetful", "password": PASSWORD}).status_code == 429
    assert (
        client.post(
            f"/api/v1/admin/users/{people_id(session, 'forgetful')}/unlock",
            headers=auth(people, client, admin),
        ).get_json()["lifted"]
        >= 1
    )
    assert browser.post("/sign-in", data={"username": "forgetful", "password": PASSWORD}).status_code == 302


def people_id(session, username):
    return session.scalar(select(User.id).where(User.username == username))


def test_recovery_codes_stand_in_for_a_lost_phone_once_each(app, people, session):
    user = people.user(Role.SUPERVISOR, "phone-loser")
    browser = app.test_client()
    browser.post("/sign-in", data={"username": "phone-loser", "password": PASSWORD})
    browser.post("/sign-in/code", data={"code": people.code(user)})
    clock.advance(timedelta(seconds=31))
    assert 'id="recovery"' in browser.get("/account").get_data(as_text=True)
    shown = browser.post("/account/recovery-codes", data={"rc-code": people.code(user)})
    codes = re.findall(r'<code translate="no">([A-Z2-7]{5}-[A-Z2-7]{5})</code>', shown.get_data(as_text=True))
    assert len(codes) == 10
    clock.advance(timedelta(seconds=31))
    for attempt, expected in ((codes[0], "/dashboard"), (codes[0], None)):
        other = app.test_client()
        other.post("/sign-in", data={"username": "phone-loser", "password": PASSWORD})
        response = other.post("/sign-in/code", data={"code": attempt.lower()})
        if expected:
            assert response.headers["Location"] == expected
        else:
            assert response.status_code == 401  # a code works once
    used = session.scalars(
        select(AuditEntry.action).where(AuditEntry.action == "accounts.recovery_code_used")
    ).all()
    assert len(used) == 1


def test_resetting_the_second_factor_needs_a_reason_and_ends_every_session(app, client, people, session):
    admin = people.user(Role.ADMIN, "centre6")
    user = people.user(Role.AGENCY, "reset-me")
    browser = app.test_client()
    browser.post("/sign-in", data={"username": "reset-me", "password": PASSWORD})
    browser.post("/sign-in/code", data={"code": people.code(user)})
    assert browser.get("/dashboard").status_code == 200
    headers = auth(people, client, admin)
    assert (
        client.post(
            f"/api/v1/admin/users/{user.id}/reset-second-factor", json={"reason": ""}, headers=headers
        ).status_code
        == 422
    )
    ok = client.post(
        f"/api/v1/admin/users/{user.id}/reset-second-factor", json={"reason": "手机丢失"}, headers=headers
    )
    assert ok.status_code == 200 and ok.get_json()["second_factor"] is False
    assert browser.get("/dashboard").status_code == 302
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "accounts.totp_reset")).one()
    assert "手机丢失".encode() in entry.leaf


def test_the_commands_onboard_without_pages(runner, people, session):
    people.user(Role.ADMIN, "centre7")
    code = credit_code("110105", 60000002)
    made = runner.invoke(
        args=["users", "create-org", "--kind", "notary", "--name", "市公证处", "--credit-code", code]
    )
    assert made.exit_code == 0, made.output
    person = runner.invoke(
        args=[
            "users",
            "create",
            "--org",
            code,
            "--role",
            "notary",
            "--username",
            "notary-he",
            "--name",
            "公证员 何",
            "--email",
            "he@notary.cn",
            "--password",
            FIRST,
        ]
    )
    assert person.exit_code == 0, person.output
    wrong = runner.invoke(
        args=[
            "users",
            "create",
            "--org",
            code,
            "--role",
            "agency",
            "--username",
            "not-here",
            "--name",
            "x",
            "--email",
            "x@x.cn",
            "--password",
            FIRST,
        ]
    )
    assert wrong.exit_code != 0 and "role_org_mismatch" in wrong.output
    assert runner.invoke(args=["users", "disable", "notary-he", "--reason", "调离"]).exit_code == 0
    assert "notary" in runner.invoke(args=["users", "list-orgs", "--kind", "notary"]).output
