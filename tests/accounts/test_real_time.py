"""The second factor and API tokens run on real time, whatever the sandbox clock says (issue 14 item 7).

A phone's authenticator app counts its codes from the real time; `flask demo code` stands in for it.
Moving the sandbox's platform clock must refuse neither, and must not void API tokens either.
"""

from datetime import timedelta

import pyotp
import pytest

from core import clock
from core.roles import Role
from demo import accounts as cast
from tests.factories import PASSWORD


@pytest.fixture
def sandbox(app):
    app.config["SANDBOX"] = True
    clock.freeze(None)  # the clock runs, as on a sandbox server


def _move_sandbox(client, people, days: int) -> None:
    admin = people.user(Role.ADMIN)
    token = people.token(client, admin)
    target = (clock.now() + timedelta(days=days)).isoformat()
    moved = client.post(
        "/api/v1/sandbox/clock", json={"now": target}, headers={"Authorization": f"Bearer {token}"}
    )
    assert moved.status_code == 200, moved.get_json()


def test_a_phone_code_is_accepted_after_the_sandbox_clock_moved(client, people, sandbox):
    agent = people.user(Role.AGENCY, "phone-agent")
    _move_sandbox(client, people, days=40)
    assert client.get("/healthz").get_json()["time"] > (clock.real_now() + timedelta(days=39)).isoformat()
    phone = pyotp.TOTP(people.secrets[agent.username]).now()  # the app on the phone: real time
    response = client.post(
        "/api/v1/auth/token", json={"username": agent.username, "password": PASSWORD, "totp": phone}
    )
    assert response.status_code == 201, response.get_json()


def test_demo_code_matches_what_the_platform_accepts_after_a_jump(app, client, session, people, sandbox):
    cast.seed(session, app.config["DATA_KEY"])
    session.commit()
    _move_sandbox(client, people, days=-3)
    clock.set_offset(timedelta(0))  # the command runs in a process of its own, which never loads it
    printed = app.test_cli_runner().invoke(args=["demo", "code", "agency1"])
    assert printed.exit_code == 0, printed.output
    response = client.post(
        "/api/v1/auth/token",
        json={"username": "agency1", "password": cast.PASSWORD, "totp": printed.output.strip()},
    )
    assert response.status_code == 201, response.get_json()


def test_an_api_token_outlives_a_sandbox_jump_past_its_lifetime(app, client, people, sandbox):
    tenderer = people.user(Role.TENDERER, "token-keeper")
    token = people.token(client, tenderer)
    _move_sandbox(client, people, days=app.config["API_TOKEN_DAYS"] + 30)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.get_json()


def test_a_token_still_expires_in_real_time(app, client, people):
    tenderer = people.user(Role.TENDERER, "token-ager")
    token = people.token(client, tenderer)
    # In tests the frozen clock stands for real time too.
    clock.advance(timedelta(days=app.config["API_TOKEN_DAYS"], seconds=1))
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401 and me.get_json()["error"]["code"] == "token_expired"
