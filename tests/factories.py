"""People in every role, made through the real services."""

from __future__ import annotations

import itertools

from accounts import services, totp
from accounts.models import Organization, User
from core.keys import ColumnCipher
from core.roles import Role
from demo.accounts import credit_code

PASSWORD = "Correct-horse-42"
_serial = itertools.count(50000001)

ROLE_KIND = {
    Role.TENDERER: "tenderer",
    Role.AGENCY: "agency",
    Role.TENDEREE: "tenderee",
    Role.SUPERVISOR: "authority",
    Role.NOTARY: "notary",
    Role.ADMIN: "platform",
}


class People:
    def __init__(self, app, session) -> None:
        self.app = app
        self.session = session
        self.secrets: dict[str, str] = {}

    def org(
        self, kind: str = "tenderer", name: str | None = None, *, commit: bool = True, verified: bool = True
    ) -> Organization:
        serial = next(_serial)
        org = services.create_organization(
            self.session,
            None,
            name=name or f"测试{kind}公司{serial}",
            credit_code=credit_code("110108", serial),
            kind=kind,
            verified=verified,
        )
        if commit:  # a test's open transaction would hold SQLite's write lock against its own requests
            self.session.commit()
        return org

    def user(
        self,
        role: Role | str,
        username: str | None = None,
        *,
        org: Organization | None = None,
        with_totp: bool | None = None,
    ) -> User:
        role = Role(role)
        username = username or f"{role}{next(_serial)}"
        if org is None and role in ROLE_KIND:
            org = self.org(ROLE_KIND[role], commit=False)
        user = services.create_user(
            self.session,
            None,
            username=username,
            display_name=username,
            email=f"{username}@example.cn",
            role=role,
            password=PASSWORD,
            organization=org,
        )
        if with_totp if with_totp is not None else role.needs_second_factor:
            secret = totp.new_secret()
            user.totp_secret = ColumnCipher(self.app.config["DATA_KEY"]).seal("totp", secret.encode())
            self.secrets[username] = secret
        self.session.commit()
        return user

    def code(self, user: User, step_offset: int = 0) -> str:
        return totp.code_at(self.secrets[user.username], totp.current_step() + step_offset)

    def token(self, client, user: User) -> str:
        body = {"username": user.username, "password": PASSWORD}
        if user.username in self.secrets:
            body["totp"] = self.code(user)
        response = client.post("/api/v1/auth/token", json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["token"]
