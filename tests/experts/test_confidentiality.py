"""R-E4: the drawn list is sealed at rest and shown by role; R-E2: the proof re-runs offline."""

from __future__ import annotations

import json
import uuid

from click.testing import CliRunner
from sqlalchemy import select

from audit.models import AuditEntry
from bidtool.cli import EXIT_REFUSED, cli
from core.roles import Role
from experts import draws
from experts.models import Draw
from tests.experts.conftest import auth
from tests.experts.test_draws import run_draw


def log(session, action):
    session.rollback()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_r_e4_drawn_list_is_sealed_at_rest(client, people, scene, experts, session):
    pool = experts.many(7)
    draw_id, _ = run_draw(client, people, scene)
    session.rollback()
    raw = session.get(Draw, uuid.UUID(draw_id))
    selected = draws.result(raw)["selected"]["01.01.01"]
    assert len(selected) == 6
    for expert in selected:  # neither the ids nor anything else readable in the stored result
        assert expert.encode() not in raw.result_sealed
    assert {e.id.hex for e in pool} >= set(selected)


def test_r_e4_agency_sees_counts_not_names_and_its_attempt_is_logged(client, people, scene, experts, session):
    experts.many(7, name=None)
    draw_id, _ = run_draw(client, people, scene)
    agent = auth(people, client, scene["agent"])
    view = client.get(f"/api/v1/draws/{draw_id}", headers=agent).get_json()
    assert view["drawn"] == {"01.01.01": 6} and "专家" not in json.dumps(view, ensure_ascii=False)
    names = client.get(f"/api/v1/draws/{draw_id}/members", headers=agent)
    assert names.status_code == 403 and names.get_json()["error"]["code"] == "draw_confidential"
    asked = client.get(f"/api/v1/draws/{draw_id}?names=1", headers=agent)
    assert asked.status_code == 403 and asked.get_json()["error"]["code"] == "draw_confidential"
    refused = log(session, "experts.draw_names_refused")
    assert len(refused) == 2 and {e.actor_id for e in refused} == {scene["agent"].id}
    proof = client.get(f"/api/v1/draws/{draw_id}/proof", headers=agent)
    assert proof.status_code == 404


def test_r_e4_tenderers_and_experts_get_404_and_are_logged(client, people, scene, experts, session):
    experts.many(7)
    draw_id, _ = run_draw(client, people, scene)
    bidder = people.user(Role.TENDERER, org=scene["bidders"][0])
    expert = people.user(Role.EXPERT)
    for user in (bidder, expert):
        headers = auth(people, client, user)
        assert client.get(f"/api/v1/draws/{draw_id}", headers=headers).status_code == 404
        assert client.get(f"/api/v1/draws/{draw_id}/members", headers=headers).status_code == 404
    assert {e.actor_id for e in log(session, "experts.draw_names_refused")} == {bidder.id, expert.id}
    assert client.get(f"/api/v1/draws/{draw_id}/proof").status_code == 404


def test_r_e4_supervisors_see_names_and_each_access_is_logged(client, people, scene, experts, session):
    pool = experts.many(7)
    draw_id, _ = run_draw(client, people, scene)
    headers = auth(people, client, scene["supervisor"])
    for _ in range(2):
        rows = client.get(f"/api/v1/draws/{draw_id}/members", headers=headers).get_json()["items"]
    names = {e.name for e in pool}
    assert len(rows) == 6 and {r["name"] for r in rows} <= names
    assert [r["backup"] for r in rows] == [False] * 5 + [True]
    assert len(log(session, "experts.draw_names_viewed")) == 2


def test_r_e4_names_and_proof_open_to_parties_once_disclosed(client, people, scene, experts, session):
    experts.many(7)
    draw_id, _ = run_draw(client, people, scene)
    draw = session.get(Draw, uuid.UUID(draw_id))
    draws.disclose(session, None, draw)
    session.commit()
    bidder = people.user(Role.TENDERER, org=scene["bidders"][1])
    rows = client.get(f"/api/v1/draws/{draw_id}/members", headers=auth(people, client, bidder))
    assert rows.status_code == 200 and len(rows.get_json()["items"]) == 6
    status = client.get(f"/api/v1/draws/{draw_id}", headers=auth(people, client, bidder)).get_json()
    assert [m["name"] for m in status["members"]] == [r["name"] for r in rows.get_json()["items"]]
    outsider = people.user(Role.TENDERER)
    assert (
        client.get(f"/api/v1/draws/{draw_id}/members", headers=auth(people, client, outsider)).status_code
        == 404
    )
    assert client.get(f"/api/v1/draws/{draw_id}/proof").status_code == 200  # anyone, signed in or not
    disclosed = log(session, "experts.draw_disclosed")
    assert disclosed and draw.commitment not in disclosed[0].leaf.decode()  # the secret, not its hash


def _proof(client, people, scene, experts, session):
    experts.many(9, ("01.01.01",))
    experts.many(4, ("01.01.01", "02"))
    experts.many(3, ("02",))
    draw_id, _ = run_draw(client, people, scene, specialties={"01.01.01": 3, "02": 2}, backups=1)
    headers = auth(people, client, scene["supervisor"])
    response = client.get(f"/api/v1/draws/{draw_id}/proof", headers=headers)
    assert response.status_code == 200
    return response.get_json()


def test_r_e2_proof_round_trip_through_bidtool(client, people, scene, experts, session, tmp_path):
    proof = _proof(client, people, scene, experts, session)
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof))
    result = CliRunner().invoke(cli, ["--lang", "en", "verify-draw", str(path)])
    assert result.exit_code == 0, result.output
    assert "Draw proof valid" in result.output
    selected = proof["selected"]
    assert len(selected["01.01.01"]) == 4 and len(selected["02"]) == 3
    assert not set(selected["01.01.01"]) & set(selected["02"])  # nobody drawn twice
    for expert in selected["02"]:
        assert expert in result.output


def test_r_e2_a_tampered_proof_fails_naming_what_differs(client, people, scene, experts, session, tmp_path):
    proof = _proof(client, people, scene, experts, session)
    path = tmp_path / "proof.json"
    cases = {
        "draw_order_mismatch": lambda p: p["orders"]["02"].reverse(),
        "draw_commitment_mismatch": lambda p: p.update(secret="00" * 32),
        "draw_pool_mismatch": lambda p: p["pool"]["02"].pop(),
        "draw_exclusions_mismatch": lambda p: p["exclusions"]["organization:bidder"].pop(),
        "draw_seed_mismatch": lambda p: p.update(seed="11" * 32),
        "draw_selection_mismatch": lambda p: p["selected"]["02"].reverse(),
    }
    for code, tamper in cases.items():
        copy = json.loads(json.dumps(proof))
        tamper(copy)
        path.write_text(json.dumps(copy))
        result = CliRunner().invoke(cli, ["--lang", "zh", "verify-draw", str(path)])
        assert result.exit_code == EXIT_REFUSED, (code, result.output)
        assert f"[{code}]" in result.output, (code, result.output)
    path.write_text("{not json")
    result = CliRunner().invoke(cli, ["verify-draw", str(path)])
    assert result.exit_code == EXIT_REFUSED and "[proof_malformed]" in result.output
