"""Scoring schemes: weights and R-V2 minimums refused with details naming the item; the API lets the
tender's agency write while the tender is a draft and everyone read once it is published."""

from datetime import timedelta
from decimal import Decimal

import pytest

from core import clock
from core.roles import Role
from evaluation.scheme import SchemeProblems, parse_scheme, scheme_json
from tests.bidding.test_tenders import auth, draft, publish


def goods(price_points=30, **extra):
    """Procurement of goods: a qualification check, technical (the rest), commercial 30, price."""
    tech = str(Decimal(70) - Decimal(str(price_points)))
    return {
        "method": "comprehensive",
        "subject": "goods",
        "criteria": [
            {"key": "Q1", "name": "营业执照", "part": "qualification", "kind": "pass_fail"},
            {
                "key": "T1",
                "name": "技术方案",
                "part": "technical",
                "kind": "subjective",
                "max_points": tech,
                "blind": True,
            },
            {
                "key": "C1",
                "name": "售后服务",
                "part": "commercial",
                "kind": "objective",
                "max_points": "30.00",
            },
        ],
        "price": {"formula": "lowest_valid", "points": price_points},
        **extra,
    }


def problems(data, track="procurement"):
    with pytest.raises(SchemeProblems) as raised:
        parse_scheme(data, track)
    return raised.value.problems


def test_a_valid_scheme_round_trips_through_its_canonical_json():
    scheme, subject = parse_scheme(goods(), "procurement")
    assert subject == "goods"
    assert [c.max_points for c in scheme.criteria] == [0, 4000, 3000]
    canonical = scheme_json(scheme, subject)
    assert canonical["price"] == {"formula": "lowest_valid", "points": "30.00"}
    assert parse_scheme(canonical, "procurement") == (scheme, subject)


def test_r_v2_goods_price_weight_below_30_is_refused():
    (problem,) = problems(goods(price_points=29.99))
    assert problem == {
        "item": "price.points",
        "code": "price_weight_below_minimum",
        "rule": "R-V2",
        "minimum": "30.00",
    }


def test_r_v2_services_need_only_10_points_for_price():
    assert parse_scheme(goods(price_points=10, subject="services"), "procurement")[1] == "services"
    assert problems(goods(price_points="9.5", subject="services"))[0]["minimum"] == "10.00"


def test_r_v2_procurement_must_price_by_the_lowest_valid_price_and_name_its_subject():
    data = goods(subject=None)
    data["price"] = {
        "formula": "average_benchmark",
        "points": 30,
        "coefficients": ["0.95"],
        "above_per_percent": 1,
    }
    codes = {(p["item"], p["code"]) for p in problems(data)}
    assert codes == {("subject", "invalid_subject"), ("price.formula", "lowest_valid_price_required")}


def test_weights_must_sum_to_100_points():
    data = goods()
    data["criteria"][1]["max_points"] = 39
    assert problems(data) == [{"item": "criteria", "code": "points_not_100", "total": "99.00"}]


def test_each_bad_criterion_is_named():
    data = goods()
    data["criteria"] += [
        {"key": "T1", "name": "重复", "part": "technical", "kind": "objective", "max_points": 0},
        {"key": "Q2", "name": "资质", "part": "qualification", "kind": "subjective", "max_points": 5},
        {
            "key": "C2",
            "name": "暗标",
            "part": "commercial",
            "kind": "objective",
            "max_points": 5,
            "blind": True,
        },
        {"key": "T3", "name": "小数", "part": "technical", "kind": "objective", "max_points": "1.234"},
    ]
    found = {(p["item"], p["code"]) for p in problems(data)}
    assert found == {
        ("criteria[3]", "invalid_range"),
        ("criteria[4]", "pass_fail_only"),
        ("criteria[5]", "blind_technical_only"),
        ("criteria[6].max_points", "invalid_points"),
    }
    data["criteria"][3]["max_points"] = 5
    assert ("criteria[3]", "duplicate_key") in {(p["item"], p["code"]) for p in problems(data)}


def works_average():
    return {
        "method": "comprehensive",
        "criteria": [
            {
                "key": "T1",
                "name": "施工组织设计",
                "part": "technical",
                "kind": "subjective",
                "max_points": 30,
            },
            {
                "key": "C1",
                "name": "项目经理业绩",
                "part": "commercial",
                "kind": "objective",
                "max_points": 10,
            },
        ],
        "price": {
            "formula": "average_benchmark",
            "points": 60,
            "coefficients": ["0.97", "0.95", "0.96"],
            "above_per_percent": 1,
            "below_per_percent": "0.5",
        },
    }


def test_works_average_benchmark_with_a_range_of_coefficients():
    scheme, subject = parse_scheme(works_average(), "works")
    assert subject == "works"
    assert [str(c) for c in scheme.price.coefficients] == ["0.95", "0.96", "0.97"]
    assert (scheme.price.above_per_percent, scheme.price.below_per_percent) == (100, 50)
    bad = works_average()
    bad["price"]["coefficients"] = ["0.95", "1.2"]
    assert problems(bad, "works") == [{"item": "price.coefficients", "code": "invalid_coefficients"}]


def test_lowest_price_method_scores_nothing_but_checks_pass_fail():
    data = {
        "method": "lowest_price",
        "criteria": [{"key": "Q1", "name": "资质", "part": "qualification", "kind": "pass_fail"}],
    }
    assert parse_scheme(data, "works")[0].price.formula == "none"
    data["price"] = {"formula": "lowest_valid", "points": 30}
    assert problems(data, "works") == [{"item": "price", "code": "no_price_score", "rule": "R-V3"}]


# -- API -----------------------------------------------------------------------------------------------


def put(client, people, user, tender_id, data):
    headers = auth(people, client, user)
    clock.advance(timedelta(seconds=31))
    return client.put(f"/api/v1/tenders/{tender_id}/scoring-scheme", json=data, headers=headers)


def procurement_draft(client, people, cast):
    return draft(client, people, cast, track="procurement", category="货物")


def test_agency_defines_and_replaces_the_scheme_of_its_draft(client, people, cast):
    tender = procurement_draft(client, people, cast)
    response = put(client, people, cast["agent"], tender["id"], goods())
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["version"] == 1
    response = put(client, people, cast["agent"], tender["id"], goods(price_points=40))
    assert response.get_json()["version"] == 2
    assert response.get_json()["price"]["points"] == "40.00"
    assert client.get(f"/api/v1/tenders/{tender['id']}/scoring-scheme").status_code == 404  # a draft


def test_invalid_scheme_is_a_422_naming_the_bad_item_and_nothing_is_stored(client, people, cast):
    tender = procurement_draft(client, people, cast)
    response = put(client, people, cast["agent"], tender["id"], goods(price_points=20))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "scheme_invalid"
    assert error["details"]["problems"][0]["item"] == "price.points"
    assert error["details"]["problems"][0]["rule"] == "R-V2"
    headers = auth(people, client, cast["agent"])
    assert client.get(f"/api/v1/tenders/{tender['id']}/scoring-scheme", headers=headers).status_code == 404


def test_other_agencies_and_other_roles_may_not_write(client, people, cast):
    tender = procurement_draft(client, people, cast)
    other_agent = people.user(Role.AGENCY)
    assert put(client, people, other_agent, tender["id"], goods()).status_code == 404
    for role in (Role.TENDERER, Role.SUPERVISOR, Role.EXPERT):
        response = put(client, people, people.user(role), tender["id"], goods())
        assert response.status_code == 403, role


def test_published_scheme_is_fixed_and_public(client, people, cast, session):
    from accounts import pki

    pki.ensure_ca(session)
    session.commit()
    tender = procurement_draft(client, people, cast)
    assert put(client, people, cast["agent"], tender["id"], goods()).status_code == 200
    assert publish(client, people, cast, tender["id"]).status_code == 200
    response = put(client, people, cast["agent"], tender["id"], goods(price_points=40))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "tender_not_draft"
    public = client.get(f"/api/v1/tenders/{tender['id']}/scoring-scheme")
    assert public.status_code == 200
    assert public.get_json()["price"]["points"] == "30.00"
    assert public.get_json()["criteria"][1]["blind"] is True


def test_the_change_is_audited(client, people, cast, session):
    from sqlalchemy import select

    from audit.models import AuditEntry

    tender = procurement_draft(client, people, cast)
    put(client, people, cast["agent"], tender["id"], goods())
    actions = session.scalars(select(AuditEntry.action)).all()
    assert "evaluation.scheme_defined" in actions
