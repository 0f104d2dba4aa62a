"""The demo cast: one of each role, with known passwords and second-factor seeds.

The seeds are derived from the user name so the README can tell newcomers how to get a code
(``flask --app wsgi demo code USER``) or load the seed into an authenticator app. Never in production.
"""

from __future__ import annotations

import base64
import hashlib

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts import services
from accounts.credit_code import ALPHABET, check_character
from accounts.models import Organization, User
from core.keys import ColumnCipher
from core.roles import Role

PASSWORD = "SunBid-demo-2026"  # noqa: S105 (the documented demo password)


def demo_totp_secret(username: str) -> str:
    return base64.b32encode(hashlib.sha256(f"sunbid-demo:{username}".encode()).digest()[:20]).decode()


def credit_code(division: str, serial: int) -> str:
    """A well-formed code for demo organisations (``91`` = enterprise registered with SAMR)."""
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    org8 = f"{serial:08d}"
    value = 11 - sum(int(c) * w for c, w in zip(org8, weights, strict=True)) % 11
    org9 = org8 + {10: "X", 11: "0"}.get(value, str(value))
    first17 = "91" + division + org9
    assert all(c in ALPHABET for c in first17)
    return first17 + check_character(first17)


ORGS = [
    ("platform", "阳光招采平台运营中心", "110108", 10000001),
    ("authority", "市公共资源交易监督管理局", "110108", 10000002),
    ("notary", "市公证处", "110101", 10000003),
    ("agency", "华信工程招标代理有限公司", "110105", 20000001),
    ("tenderee", "市第一人民医院", "110102", 30000001),
    ("tenderer", "北京建工集团有限公司", "110106", 40000001),
    ("tenderer", "中铁城建有限公司", "110107", 40000002),
    ("tenderer", "华北路桥工程有限公司", "110108", 40000003),
]

USERS = [
    ("admin", "平台管理员 Admin", Role.ADMIN, 0),
    ("supervisor", "监督员 王敏", Role.SUPERVISOR, 1),
    ("notary", "公证员 何静", Role.NOTARY, 2),
    ("agency1", "代理 李强", Role.AGENCY, 3),
    ("agency2", "代理 赵芳", Role.AGENCY, 3),
    ("tenderee", "招标人 陈静", Role.TENDEREE, 4),
    ("tenderer1", "投标人 张伟", Role.TENDERER, 5),
    ("tenderer2", "投标人 刘洋", Role.TENDERER, 6),
    ("tenderer3", "投标人 杨磊", Role.TENDERER, 7),
] + [
    (f"expert{n}", f"专家 {name}", Role.EXPERT, None)
    for n, name in enumerate(["周建国", "吴秀英", "郑海涛", "孙丽华", "马志强", "胡晓梅", "林国栋"], start=1)
]


def seed(session: Session, data_key: str) -> list[User]:
    """Create the demo cast once; returns the users created (empty when already seeded)."""
    if session.scalar(select(User.id).where(User.username == "admin")):
        return []
    orgs = [
        services.create_organization(
            session,
            None,
            name=name,
            credit_code=credit_code(div, serial),
            kind=kind,
            verified=True,  # the demo companies are known to the demo centre
            ip="demo",
        )
        for kind, name, div, serial in ORGS
    ]
    cipher = ColumnCipher(data_key)
    created = []
    for username, display, role, org_index in USERS:
        user = services.create_user(
            session,
            None,
            username=username,
            display_name=display,
            email=f"{username}@demo.sunbid.local",
            role=role,
            password=PASSWORD,
            organization=orgs[org_index] if org_index is not None else None,
            ip="demo",
        )
        if role.needs_second_factor:
            user.totp_secret = cipher.seal("totp", demo_totp_secret(username).encode())
        created.append(user)
    session.flush()
    return created


def organizations(session: Session) -> list[Organization]:
    return list(session.scalars(select(Organization)))
