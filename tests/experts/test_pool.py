"""The expert pool: profiles with the ID number sealed at rest, the taxonomy, CSV import (all or nothing,
every bad row reported with its line), and the admins' and experts' own pages."""

from __future__ import annotations

import io
from datetime import timedelta

from sqlalchemy import func, select

from audit.models import AuditEntry
from core import clock
from core.roles import Role
from experts import pool
from experts.models import Employment, Expert, Leave
from tests.bidding.test_views import local, sign_in
from tests.experts.conftest import id_number

HEADER = ",".join(pool.CSV_COLUMNS)


def csv_bytes(*rows: str) -> bytes:
    return ("\ufeff" + "\n".join([HEADER, *rows]) + "\n").encode()


def test_id_number_is_sealed_at_rest_and_not_logged(session, experts):
    expert = experts.expert(name="周建国")
    number = pool.id_number(expert)
    assert number.encode() not in expert.id_number_sealed
    assert pool.masked_id_number(expert).startswith(number[:3]) and "*" in pool.masked_id_number(expert)
    for entry in session.scalars(select(AuditEntry)):
        assert number not in entry.leaf.decode()


def test_profile_problems_are_named(session, experts, admin):
    problems = pool.profile_problems(
        session,
        pool.Profile(name="", id_number="110105197001011234", email="nope", specialties=["99"]),
    )
    assert {(p["field"], p["code"]) for p in problems} >= {
        ("name", "required"),
        ("id_number", "check_character"),
        ("email", "format"),
        ("specialties", "unknown"),
    }
    first = experts.expert()
    duplicate = pool.profile_problems(
        session, pool.Profile(name="x", id_number=pool.id_number(first), specialties=["01"])
    )
    assert {"field": "id_number", "code": "duplicate"} in duplicate


def test_taxonomy_nests_and_a_draw_for_a_parent_code_reaches_its_children(session, experts, admin):
    from core.errors import Invalid

    try:
        pool.add_specialty(session, admin, "04.01", "无父级")
    except Invalid as err:
        assert err.code == "specialty_parent_missing"
    else:
        raise AssertionError("a child without its parent was accepted")
    session.rollback()
    deep = experts.expert(("01.01.01",))
    found = session.scalars(pool.search(None, None, "01")).all()
    assert deep in found


def test_import_refuses_the_whole_file_listing_every_bad_row(session, experts, admin):
    good = f"王五,{id_number(501)},13800000000,w@example.cn,高级工程师,12,北京市,01.01.01;02,,,,"
    rows = [
        good,
        f",{id_number(502)},,,,,北京市,01.01.01,,,,",  # line 3: no name
        "赵六,110105197001011234,,,,,北京市,01.01.01,,,,",  # line 4: bad check character
        f"钱七,{id_number(503)},,,,abc,北京市,99,,,,",  # line 5: years and specialty
        f"孙八,{id_number(501)},,,,,北京市,01.01.01,,,,",  # line 6: same person as line 2
        f"李九,{id_number(504)},,,,,北京市,01.01.01,某公司,91110108MA0000000X,2020-01-01,",  # line 7
    ]
    from core.errors import Invalid

    try:
        pool.import_csv(session, admin, csv_bytes(*rows))
    except Invalid as err:
        assert err.code == "import_rejected"
        found = {(r["row"], r["field"], r["code"]) for r in err.details["rows"]}
    else:
        raise AssertionError("a file with bad rows was imported")
    session.rollback()
    assert (3, "name", "required") in found
    assert (4, "id_number", "check_character") in found
    assert (5, "years_of_practice", "not_a_number") in found and (5, "specialties", "unknown") in found
    assert (6, "id_number", "duplicate_in_file") in found
    assert any(r == 7 and f == "employer_credit_code" for r, f, _ in found)
    assert not any(r == 2 for r, _, _ in found)
    assert session.scalar(select(func.count()).select_from(Expert)) == 0  # nothing half-imported


def test_import_of_a_clean_file_creates_experts_with_employment_and_account_links(
    session, experts, admin, people
):
    from accounts.models import Organization

    people.user(Role.EXPERT, "expert-import")
    employer = people.org("tenderer", "北京建工集团有限公司")
    code = session.get(Organization, employer.id).credit_code
    created = pool.import_csv(
        session,
        admin,
        csv_bytes(
            f"王五,{id_number(601)},138,w@example.cn,高级工程师,12,北京市,01.01.01;02,北京建工,{code},2019-03-01,expert-import",
            f"赵六,{id_number(602)},,,,3,天津市,03.01.01,,,,",
        ),
    )
    session.commit()
    assert [e.name for e in created] == ["王五", "赵六"]
    job = session.scalar(select(Employment).where(Employment.expert_id == created[0].id))
    assert job.organization_id == employer.id and job.end_date is None
    assert created[0].user_id is not None
    assert sorted(s.specialty_code for s in created[0].specialties) == ["01.01.01", "02"]


def test_admin_pages_add_search_and_import(client, people, session, experts, admin):
    sign_in(client, people, admin)
    response = client.post(
        "/admin/experts/new",
        data={
            "name": "林国栋",
            "id_number": id_number(701),
            "region": "北京市",
            "years_of_practice": "20",
            "status": "active",
            "specialties": ["01.02", "02"],
        },
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    listing = client.get("/admin/experts?q=林").get_data(as_text=True)
    assert "林国栋" in listing
    bad = client.post("/admin/experts/new", data={"name": "", "id_number": "1", "specialties": []})
    assert bad.status_code == 422
    upload = client.post(
        "/admin/experts/import",
        data={"file": (io.BytesIO(csv_bytes(f"无名,{id_number(702)},,,,,北京市,99,,,,")), "roster.csv")},
        content_type="multipart/form-data",
    )
    page = upload.get_data(as_text=True)
    assert upload.status_code == 200 and 'id="import-errors"' in page and "unknown" in page
    assert client.get("/admin/specialties").status_code == 200
    assert client.post("/admin/specialties", data={"code": "04", "name": "水利"}).status_code == 302


def test_experts_keep_their_own_leave_in_their_page(client, people, session, experts):
    user = people.user(Role.EXPERT, "me-expert")
    expert = experts.expert(username="me-expert")
    sign_in(client, people, user)
    assert expert.name in client.get("/experts/me").get_data(as_text=True)
    start = clock.now() + timedelta(days=2)
    response = client.post(
        "/experts/me/leaves",
        data={"starts_at": local(start), "ends_at": local(start + timedelta(days=3)), "reason": "出差"},
    )
    assert response.status_code == 302
    session.rollback()
    leave = session.scalar(select(Leave).where(Leave.expert_id == expert.id))
    assert leave is not None and leave.reason == "出差"
    assert "出差" in client.get("/experts/me").get_data(as_text=True)
    assert client.get("/admin/experts").status_code == 403
    client.post(f"/experts/me/leaves/{leave.id}/delete")
    session.rollback()
    assert session.scalar(select(Leave.id)) is None


def test_admin_edits_a_profile_and_records_employment_and_training(client, people, session, experts, admin):
    from accounts.models import Organization

    expert = experts.expert(name="郑海涛")
    employer = people.org("tenderer", "华北路桥工程有限公司")
    code = session.get(Organization, employer.id).credit_code
    sign_in(client, people, admin)
    page = client.get(f"/admin/experts/{expert.id}").get_data(as_text=True)
    number = pool.id_number(expert)
    assert "郑海涛" in page and number not in page  # masked, never shown whole
    form = {
        "name": "郑海涛",
        "id_number": "",
        "status": "suspended",
        "specialties": ["02"],
        "years_of_practice": "9",
    }
    assert client.post(f"/admin/experts/{expert.id}", data=form).status_code == 302
    job = {
        "employer_name": "华北路桥",
        "employer_credit_code": code,
        "start_date": "2018-01-01",
        "end_date": "",
    }
    assert client.post(f"/admin/experts/{expert.id}/employments", data=job).status_code == 302
    record = {"kind": "training", "title": "评标专家继续教育", "held_on": "2026-05-10", "result": "合格"}
    assert client.post(f"/admin/experts/{expert.id}/records", data=record).status_code == 302
    session.rollback()
    session.expire_all()  # the test loaded this expert before the requests changed it
    expert = session.get(Expert, expert.id)
    assert expert.status == "suspended" and [s.specialty_code for s in expert.specialties] == ["02"]
    assert pool.id_number(expert) == number  # kept when the field is left empty
    assert expert.employments[0].organization_id == employer.id and expert.records[0].result == "合格"
