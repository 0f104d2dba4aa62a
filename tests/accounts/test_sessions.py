"""Sessions that end (issue 12, item 5): server-side sessions that sign-out ends everywhere, idle limits,
every way in revoked on a password change, and ``next`` that cannot leave the site."""

from datetime import timedelta

import pytest

from accounts.models import UserSession
from core import clock
from core.roles import Role
from tests.factories import PASSWORD

COOKIE = "sunbid_session"


def sign_in(client, people, user, next_url=None):
    url = "/sign-in" + (f"?next={next_url}" if next_url else "")
    response = client.post(url, data={"username": user.username, "password": PASSWORD})
    if user.username in people.secrets:
        response = client.post("/sign-in/code", data={"code": people.code(user)})
    return response


def test_a_cookie_copied_before_sign_out_is_refused_after_it(app, people):
    user = people.user(Role.TENDERER, "copycat-victim")
    mine, thief = app.test_client(), app.test_client()
    sign_in(mine, people, user)
    stolen = mine.get_cookie(COOKIE).value
    thief.set_cookie(COOKIE, stolen)
    assert thief.get("/dashboard").status_code == 200  # a copied cookie works while the session lives
    csrf = mine.get("/account").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    assert mine.post("/sign-out", data={"csrf_token": csrf}).status_code == 302
    refused = thief.get("/dashboard")
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/sign-in")


def test_staff_and_experts_time_out_when_idle_tenderers_later(app, people, session, wall):
    agent, tenderer = people.user(Role.AGENCY, "idle-agent"), people.user(Role.TENDERER, "idle-bidder")
    staff, bidder = app.test_client(), app.test_client()
    sign_in(staff, people, agent)
    sign_in(bidder, people, tenderer)
    wall(timedelta(minutes=app.config["SESSION_IDLE_MINUTES_STAFF"] - 1))
    assert staff.get("/dashboard").status_code == 200  # activity keeps it alive...
    wall(timedelta(minutes=app.config["SESSION_IDLE_MINUTES_STAFF"] + 1))
    assert staff.get("/dashboard").status_code == 302  # ...until it idles past the limit
    assert bidder.get("/dashboard").status_code == 200
    wall(timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] + 1))
    assert bidder.get("/dashboard").status_code == 302
    ended = {row.end_reason for row in session.query(UserSession).all()}
    assert ended == {"idle"}


def test_a_form_sent_after_a_quiet_minute_is_served_and_counts_as_activity(app, people, session, wall):
    """The first request after a minute refreshes the session's last-seen time. On SQLite a form (a
    request that writes, holding the write lock from its first query) waited 30 s for its own lock on
    that refresh and failed with a 500: the page's upload after a long seal did."""
    user = people.user(Role.TENDERER, "quiet-minute")
    client = app.test_client()
    sign_in(client, people, user)
    csrf = client.get("/account").get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]
    wall(timedelta(minutes=2))
    began = clock.wall()
    assert client.post("/sign-out", data={"csrf_token": csrf}).status_code == 302
    session.rollback()
    row = session.query(UserSession).one()
    assert row.end_reason == "signed_out" and row.last_seen_at >= began


def test_sessions_have_an_absolute_lifetime(app, people, wall):
    user = people.user(Role.TENDERER, "long-day")
    client = app.test_client()
    sign_in(client, people, user)
    for _ in range(app.config["SESSION_MAX_HOURS"] * 2):  # active every half hour all day long
        wall(timedelta(minutes=30))
        if client.get("/dashboard").status_code != 200:
            break
    assert client.get("/dashboard").status_code == 302


def test_a_sandbox_clock_jump_does_not_sign_anyone_out(app, people):
    clock.freeze(None)  # a running clock, as a sandbox deployment has...
    user = people.user(Role.SUPERVISOR, "sandbox-sup")
    client = app.test_client()
    sign_in(client, people, user)
    clock.set_offset(timedelta(days=40))  # ...moved 40 days ahead
    try:
        assert client.get("/dashboard").status_code == 200
    finally:
        clock.set_offset(timedelta(0))


def test_a_password_change_ends_other_sessions_and_revokes_api_tokens(app, people):
    user = people.user(Role.TENDERER, "changer")
    here, elsewhere = app.test_client(), app.test_client()
    sign_in(here, people, user)
    sign_in(elsewhere, people, user)
    token = people.token(app.test_client(), user)
    api = {"Authorization": f"Bearer {token}"}
    assert here.get("/api/v1/me", headers=api).status_code == 200
    page = here.get("/account").get_data(as_text=True)
    csrf = page.split('name="pw-csrf_token" value="')[1].split('"')[0] if "pw-csrf_token" in page else None
    csrf = csrf or page.split('name="csrf_token" value="')[1].split('"')[0]
    changed = here.post(
        "/account/password",
        data={
            "pw-csrf_token": csrf,
            "pw-old": PASSWORD,
            "pw-new": "Another-horse-77",
            "pw-confirm": "Another-horse-77",
        },
    )
    assert changed.status_code == 302
    assert here.get("/dashboard").status_code == 200  # the session that changed it goes on
    assert elsewhere.get("/dashboard").status_code == 302  # every other one is over
    revoked = here.get("/api/v1/me", headers=api)
    assert revoked.status_code == 401 and revoked.get_json()["error"]["code"] == "token_revoked"


@pytest.mark.parametrize(
    "target",
    [
        "/%09/evil.example",
        "//evil.example",
        "/\\evil.example",
        "/%5Cevil.example",
        "/%2F%2Fevil.example",
        "https://evil.example/",
        "/%252F%252Fevil.example",
        "/\t/evil.example",
    ],
)
def test_next_after_sign_in_never_leaves_the_site(app, people, target):
    user = people.user(Role.TENDERER)
    response = sign_in(app.test_client(), people, user, next_url=target)
    assert response.status_code == 302 and response.headers["Location"] == "/dashboard"


def test_next_after_sign_in_keeps_a_path_on_the_site(app, people):
    user = people.user(Role.TENDERER)
    response = sign_in(app.test_client(), people, user, next_url="/tenders?q=%E9%97%A8%E8%AF%8A")
    assert response.headers["Location"] == "/tenders?q=%E9%97%A8%E8%AF%8A"
