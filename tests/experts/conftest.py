"""Fixtures for the expert tests: a taxonomy, a pool, and a tender whose bidders are known."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from bidding.models import Bid, Tender, TenderAssignment
from core import clock
from core.roles import Role
from experts import pool

_serial = itertools.count(1)
TAXONOMY = [
    ("01", "工程建设"),
    ("01.01", "房屋建筑"),
    ("01.01.01", "土建"),
    ("01.02", "市政"),
    ("02", "工程造价"),
    ("03", "政府采购"),
    ("03.01", "货物"),
    ("03.01.01", "信息化"),
]


def id_number(serial: int) -> str:
    """A well-formed 居民身份证号 (GB 11643 check character)."""
    first17 = f"110105197001{serial % 28 + 1:02d}{serial % 1000:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


class Pool:
    def __init__(self, session, admin) -> None:
        self.session, self.admin = session, admin

    def expert(self, specialties=("01.01.01",), *, region="北京市", status="active", username="", name=None):
        n = next(_serial)
        expert = pool.create_expert(
            self.session,
            self.admin,
            pool.Profile(
                name=name or f"专家{n}",
                id_number=id_number(n),
                email=f"e{n}@example.cn",
                region=region,
                specialties=list(specialties),
                status=status,
                username=username,
                years_of_practice=10,
            ),
        )
        self.session.commit()
        return expert

    def many(self, count, specialties=("01.01.01",), **kw):
        return [self.expert(specialties, **kw) for _ in range(count)]


@pytest.fixture
def admin(people):
    return people.user(Role.ADMIN, "pooladmin")


@pytest.fixture
def taxonomy(session, admin):
    for code, name in TAXONOMY:
        pool.add_specialty(session, admin, code, name)
    session.commit()


@pytest.fixture
def experts(session, admin, taxonomy):
    return Pool(session, admin)


@pytest.fixture
def scene(session, people):
    """A published tender whose bid deadline passed an hour ago, with three submitted bids."""
    agent = people.user(Role.AGENCY, "drawagent")
    supervisor = people.user(Role.SUPERVISOR, "drawwatcher")
    tenderee = people.org("tenderee", "市第一人民医院")
    bidders = [people.org("tenderer", f"投标人{k}") for k in range(3)]
    now = clock.now()
    tender = Tender(
        code=f"ZB-2026-9{next(_serial):05d}",
        title="门诊楼改扩建工程",
        track="works",
        category="房屋建筑",
        agency_id=agent.organization_id,
        tenderee_id=tenderee.id,
        created_by_id=agent.id,
        estimated_price_fen=100_000_000,
        status="published",
        documents_from=now - timedelta(days=30),
        documents_to=now - timedelta(days=20),
        bid_deadline=now - timedelta(hours=1),
        published_at=now - timedelta(days=31),
    )
    session.add(tender)
    session.flush()
    # Rights are per person (bidding.permissions): the agent runs the tender, the supervisor oversees it.
    session.add(TenderAssignment(tender_id=tender.id, user_id=agent.id, kind="agency"))
    session.add(TenderAssignment(tender_id=tender.id, user_id=supervisor.id, kind="supervisor"))
    for org in bidders:
        session.add(
            Bid(
                tender_id=tender.id,
                lot_number=1,
                organization_id=org.id,
                created_by_id=agent.id,
                status="submitted",
                submitted_at=now - timedelta(hours=2),
            )
        )
    session.commit()
    return {
        "agent": agent,
        "supervisor": supervisor,
        "tenderee": tenderee,
        "bidders": bidders,
        "tender": tender,
        "evaluation_at": (now + timedelta(days=1)).isoformat(),
    }


def auth(people, client, user):
    """One token per user and test: a second sign-in would reuse the same second-factor code."""
    tokens = people.__dict__.setdefault("_tokens", {})
    if user.id not in tokens:
        tokens[user.id] = people.token(client, user)
    return {"Authorization": f"Bearer {tokens[user.id]}"}


def draw_body(scene, specialties=None, **extra):
    return {
        "specialties": specialties or {"01.01.01": 5},
        "backups": 1,
        "evaluation_at": scene["evaluation_at"],
        "evaluation_place": "第3评标室",
        "supervisor": scene["supervisor"].username,
        **extra,
    }
