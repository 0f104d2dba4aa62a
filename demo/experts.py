"""The demo expert pool: a small specialty taxonomy and profiles for the demo experts expert1..expert7."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from accounts.models import Organization, User
from experts import pool
from experts.models import Expert, Specialty

TAXONOMY = [
    ("01", "工程建设"),
    ("01.01", "房屋建筑"),
    ("01.01.01", "土建"),
    ("01.01.02", "安装"),
    ("01.02", "市政"),
    ("01.03", "公路"),
    ("02", "工程造价"),
    ("03", "政府采购"),
    ("03.01", "货物"),
    ("03.01.01", "信息化"),
    ("03.02", "服务"),
]

# username, title, years, specialties, demo ID serial, former employer (a demo organisation's name)
PROFILES = [
    ("expert1", "教授级高级工程师", 25, ["01.01.01"], 11, None),
    ("expert2", "高级工程师", 18, ["01.01.01", "01.01.02"], 12, None),
    ("expert3", "高级工程师", 15, ["01.01.01"], 13, "北京建工集团有限公司"),  # avoided when it bids
    ("expert4", "高级经济师", 20, ["02"], 14, None),
    ("expert5", "注册造价工程师", 12, ["02", "01.01.01"], 15, None),
    ("expert6", "高级工程师", 16, ["01.02"], 16, None),
    ("expert7", "高级工程师", 10, ["03.01.01"], 17, None),
]


def demo_id_number(serial: int) -> str:
    first17 = f"11010819750101{serial:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(first17, weights, strict=True))
    return first17 + "10X98765432"[total % 11]


def seed(session: Session) -> int:
    """Create the taxonomy and the demo profiles once; returns how many profiles were created."""
    if session.scalar(select(Specialty.code).limit(1)) is None:
        for code, name in TAXONOMY:
            pool.add_specialty(session, None, code, name, ip="demo")
    created = 0
    for username, title, years, codes, serial, employer in PROFILES:
        user = session.scalar(select(User).where(User.username == username))
        if user is None or session.scalar(select(Expert.id).where(Expert.user_id == user.id)):
            continue
        expert = pool.create_expert(
            session,
            None,
            pool.Profile(
                name=user.display_name.removeprefix("专家 "),
                id_number=demo_id_number(serial),
                phone=f"1380000{serial:04d}",
                email=user.email,
                title=title,
                years_of_practice=years,
                region="北京市",
                specialties=codes,
                username=username,
            ),
            ip="demo",
        )
        if employer is not None and org_exists(session, employer):
            org = session.execute(select(Organization).where(Organization.name == employer)).scalar_one()
            pool.add_employment(
                session,
                None,
                expert,
                employer_name=org.name,
                employer_credit_code=org.credit_code,
                start_date=date(2015, 3, 1),
                end_date=date(2024, 6, 30),
                ip="demo",
            )
        created += 1
    session.flush()
    return created


def org_exists(session: Session, name: str) -> bool:
    return session.scalar(select(Organization.id).where(Organization.name == name)) is not None
