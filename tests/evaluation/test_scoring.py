"""Score sheets in the room: blind items by code only, scores in range (422), a submitted sheet locked
(409), nobody sees others' scores before all have submitted (R-V1), a replaced member's sheet void
(R-E5), and the results ranked by the statutory formulas (R-V3) with at most 3 candidates (R-V6)."""

import base64
import json
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from accounts import pki
from core import clock
from crypto import cms
from crypto.canonical import canonical_json
from evaluation.models import ScoringScheme
from evaluation.scheme import parse_scheme, scheme_json
from tests.bidding.test_tenders import auth
from tests.evaluation.test_room import _check_in

SCHEME = {
    "method": "comprehensive",
    "criteria": [
        {"key": "Q1", "name": "安全生产许可证", "part": "qualification", "kind": "pass_fail"},
        {
            "key": "T1",
            "name": "施工组织设计",
            "part": "technical",
            "kind": "subjective",
            "max_points": 30,
            "blind": True,
        },
        {"key": "C1", "name": "项目经理业绩", "part": "commercial", "kind": "objective", "max_points": 10},
    ],
    "price": {
        "formula": "average_benchmark",
        "points": 60,
        "coefficients": ["0.95"],
        "above_per_percent": 1,
        "below_per_percent": "0.5",
    },
}


def put_scheme(session, tender, author):
    """The scheme on record as the agency would have defined it before publication."""
    scheme, subject = parse_scheme(SCHEME, "works")
    session.add(
        ScoringScheme(
            tender_id=tender.id,
            version=1,
            method=scheme.method,
            subject=subject,
            price_formula=scheme.price.formula,
            price_points=scheme.price.full_points,
            definition=scheme_json(scheme, subject),
            updated_by_id=author.id,
            updated_at=clock.now(),
        )
    )
    session.commit()


@pytest.fixture
def sitting(client, people, session, opened, committee):
    """The scheme on record, every member checked in; returns (tender, bids, members' headers, codes)."""
    tender, bids = opened
    put_scheme(session, tender, committee[0])
    heads = [_check_in(client, people, tender, member)[1] for member in committee]
    codes = [
        i["code"]
        for i in client.get(f"/api/v1/tenders/{tender.id}/evaluation/technical", headers=heads[0]).get_json()[
            "items"
        ]
    ]
    return tender, bids, heads, codes


def sheet(bids, codes, *, t1="25", fail=()):
    """A complete sheet: Q1 passed except for the bids in ``fail``, T1 by code, C1 by bid id."""
    return {
        "qualification": {
            bid_id: {"Q1": {"pass": False, "reason": "安全生产许可证已过期"} if n in fail else {"pass": True}}
            for n, (_b, bid_id, _s) in enumerate(bids)
        },
        "scores": {**{code: {"T1": t1} for code in codes}, **{bid_id: {"C1": 8} for _b, bid_id, _s in bids}},
    }


def test_r_v1_sheets_are_checked_locked_and_hidden_until_all_submit(client, sitting):
    tender, bids, heads, codes = sitting
    url = f"/api/v1/tenders/{tender.id}/evaluation/scores"
    out_of_range = client.put(url, json={"scores": {codes[0]: {"T1": "30.01"}}}, headers=heads[0])
    assert out_of_range.status_code == 422
    (problem,) = out_of_range.get_json()["error"]["details"]["problems"]
    assert problem["code"] == "score_out_of_range" and problem["max"] == "30"
    unmasking = client.put(url, json={"scores": {bids[0][1]: {"T1": 20}}}, headers=heads[0])
    assert unmasking.get_json()["error"]["details"]["problems"][0]["code"] == "use_blind_code"
    no_reason = client.put(
        url, json={"qualification": {bids[0][1]: {"Q1": {"pass": False}}}}, headers=heads[0]
    )
    assert no_reason.get_json()["error"]["details"]["problems"][0]["code"] == "reason_required"
    draft = client.put(url, json={"scores": {codes[0]: {"T1": "22.5"}}}, headers=heads[0])
    assert draft.status_code == 200 and draft.get_json()["scores"] == {codes[0]: {"T1": "22.5"}}
    incomplete = client.post(url, json={}, headers=heads[0])
    assert incomplete.status_code == 422 and incomplete.get_json()["error"]["code"] == "sheet_incomplete"

    assert client.post(url, json=sheet(bids, codes), headers=heads[0]).status_code == 200
    locked = client.put(url, json={"scores": {codes[0]: {"T1": 1}}}, headers=heads[0])
    assert locked.status_code == 409 and locked.get_json()["error"]["code"] == "sheet_submitted"
    pending = client.get(f"/api/v1/tenders/{tender.id}/evaluation/results", headers=heads[1])
    assert pending.status_code == 409 and pending.get_json()["error"]["details"] == {
        "submitted": 1,
        "members": 5,
    }


def test_results_rank_by_total_and_leave_out_a_replaced_members_sheet(client, sitting):
    tender, bids, heads, codes = sitting
    url = f"/api/v1/tenders/{tender.id}/evaluation/scores"
    # Three of five fail the dearest bid on Q1 (a majority); the tenderee's representative scores wildly.
    for n, headers in enumerate(heads):
        body = sheet(bids, codes, fail=(2,) if n < 3 else (), t1="5" if n == 4 else "25")
        assert client.post(url, json=body, headers=headers).status_code == 200
        clock.advance(timedelta(seconds=1))
    # The representative then declares a conflict: their sheet is void (R-E5) and results come from the rest.
    left = client.post(
        f"/api/v1/tenders/{tender.id}/evaluation/conflicts",
        json={"bids": [bids[0][1]], "reason": "与投标人存在利害关系"},
        headers=heads[4],
    )
    assert left.status_code == 200
    response = client.get(f"/api/v1/tenders/{tender.id}/evaluation/results", headers=heads[0])
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["void_sheets"] == 1 and body["coefficient"] == "0.95"
    rows = {r["bid"]: r for r in body["results"]}
    failed = rows[bids[2][1]]
    assert (
        not failed["qualified"]
        and failed["failed"] == ["Q1"]
        and failed["reasons"] == ["安全生产许可证已过期"]
    )
    first, second = rows[bids[0][1]], rows[bids[1][1]]
    # Equal technical (25) and commercial (8) scores among the four sitting members: the lower price
    # is nearer the benchmark from above, so it scores more and ranks first (R-V3).
    assert first["technical"] == second["technical"] == "25"
    assert (first["rank"], second["rank"]) == (1, 2) and body["candidates"] == [bids[0][1], bids[1][1]]
    assert not any(f["code"] == "abnormal_score" for f in body["flags"])  # the outlier's sheet is void
    text = json.dumps(body, ensure_ascii=False)
    assert not any(code in text for code in codes)  # results never name a blind code


def _certificate(session, user):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, user.username)]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )
    row = pki.issue_signing_certificate(session, user, csr)
    session.commit()
    return key, x509.load_pem_x509_certificate(row.pem.encode())


def test_r_v6_every_member_signs_and_the_agency_sees_the_result_only_after(
    client,
    people,
    session,
    cast,
    committee,
    sitting,
):
    tender, bids, heads, codes = sitting
    base = f"/api/v1/tenders/{tender.id}/evaluation"
    for headers in heads:
        assert client.post(f"{base}/scores", json=sheet(bids, codes), headers=headers).status_code == 200
    chair = committee[0]
    for voter in heads[1:4]:
        client.post(f"{base}/chair", json={"candidate": str(chair.id)}, headers=voter)
    assert client.post(f"{base}/report", headers=heads[1]).get_json()["error"]["code"] == "chair_only"
    drafted = client.post(f"{base}/report", headers=heads[0])
    assert drafted.status_code == 201, drafted.get_json()
    content = drafted.get_json()["content"]
    assert len(content["candidates"]) <= 3 and not any(code in json.dumps(content) for code in codes)
    pdf = client.get(f"{base}/report.pdf", headers=heads[2])
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    agency = auth(people, client, cast["agent"])
    early = client.get(f"{base}/report", headers=agency)
    assert early.status_code == 403 and early.get_json()["error"]["code"] == "report_not_signed"

    def sign(n, **body):
        clock.advance(timedelta(seconds=31))  # a fresh code for each signature
        response = client.post(
            f"{base}/report/signatures", json={"code": people.code(committee[n]), **body}, headers=heads[n]
        )
        return response

    key, certificate = _certificate(session, committee[0])
    cms_signature = base64.b64encode(cms.sign_detached(canonical_json(content), certificate, key)).decode()
    assert sign(0, decision="agree", cms_signature=cms_signature).status_code == 201
    assert sign(1, decision="dissent").get_json()["error"]["code"] == "reasons_required"
    assert (
        sign(1, decision="dissent", reasons="对第一名的技术评分有不同意见").get_json()["counted_as"]
        == "dissent"
    )
    assert sign(2, decision="refused").get_json()["counted_as"] == "agree"  # no written reasons (R-V6)
    assert sign(3, decision="agree").status_code == 201
    again = sign(3, decision="agree")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_signed"
    pending = client.post(f"{base}/report/close", headers=heads[0])
    assert pending.status_code == 409 and pending.get_json()["error"]["details"] == {"waiting": 1}
    assert sign(4, decision="agree").status_code == 201
    closed = client.post(f"{base}/report/close", headers=heads[0])
    assert closed.status_code == 200 and closed.get_json()["status"] == "signed"
    clock.advance(timedelta(seconds=31))
    seen = client.get(f"{base}/report", headers=auth(people, client, cast["agent"]))
    assert seen.status_code == 200
    signatures = {s["decision"]: s for s in seen.get_json()["signatures"]}
    assert signatures["agree"]["cms"] is not None or any(s["cms"] for s in seen.get_json()["signatures"])
    assert signatures["dissent"]["reasons"] == "对第一名的技术评分有不同意见"


def test_r_v4_only_a_recorded_review_for_a_flagged_problem_changes_a_score(
    client, people, committee, sitting
):
    tender, bids, heads, codes = sitting
    base = f"/api/v1/tenders/{tender.id}/evaluation"
    odd = sheet(bids, codes)
    odd["scores"][bids[0][1]]["C1"] = 6  # an objective item the others scored 8: inconsistent
    odd["scores"][codes[0]]["T1"] = "5"  # a subjective score far from the others' 25: abnormal
    for n, headers in enumerate(heads):
        assert (
            client.post(
                f"{base}/scores", json=odd if n == 1 else sheet(bids, codes), headers=headers
            ).status_code
            == 200
        )
    for voter in heads[1:4]:
        client.post(f"{base}/chair", json={"candidate": str(committee[0].id)}, headers=voter)
    results = client.get(f"{base}/results", headers=heads[0]).get_json()
    flags = {f["code"]: f for f in results["flags"]}
    assert {"objective_inconsistent", "abnormal_score"} <= set(flags)
    # A flag on a blind item names its code, never the bid behind it.
    assert flags["abnormal_score"]["bid"] == codes[0]
    blocked = client.post(f"{base}/report", headers=heads[0])
    assert blocked.status_code == 409 and blocked.get_json()["error"]["code"] == "review_needed"

    def review(headers=heads[0], **body):
        return client.post(f"{base}/reviews", json={"note": "经复核，评分有误", **body}, headers=headers)

    member = flags["abnormal_score"]["expert"]
    refused = review(reason="personal_preference", member=member, bid=codes[0], criterion="T1", points="24")
    assert refused.status_code == 422 and refused.get_json()["error"]["code"] == "review_reason_not_allowed"
    not_flagged = review(reason="abnormal_score", member=member, bid=codes[1], criterion="T1", points="24")
    assert not_flagged.status_code == 422 and not_flagged.get_json()["error"]["code"] == "review_not_flagged"
    assert (
        review(
            heads[1], reason="abnormal_score", member=member, bid=codes[0], criterion="T1", points="24"
        ).status_code
        == 403
    )
    fixed = review(reason="abnormal_score", member=member, bid=codes[0], criterion="T1", points="24")
    assert (
        fixed.status_code == 201 and fixed.get_json()["bid"] == codes[0] and "totals" not in fixed.get_json()
    )
    inconsistent = flags["objective_inconsistent"]  # the same member wrote the odd C1
    settled = review(
        reason="objective_inconsistent", member=member, bid=inconsistent["bid"], criterion="C1", points=8
    )
    assert settled.status_code == 201, settled.get_json()
    after = client.get(f"{base}/results", headers=heads[2]).get_json()
    assert not after["blocked"] and len(after["reviews"]) == 2
    assert client.post(f"{base}/report", headers=heads[0]).status_code == 201
    late = review(reason="abnormal_score", member=member, bid=codes[0], criterion="T1", points="25")
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "report_exists"


def test_r_r4_facts_for_the_supervisors_review_of_each_member(client, people, cast, committee, sitting):
    tender, bids, heads, codes = sitting
    base = f"/api/v1/tenders/{tender.id}/evaluation"
    odd = sheet(bids, codes)
    odd["scores"][codes[0]]["T1"] = "5"
    clock.advance(timedelta(minutes=42))
    for n, headers in enumerate(heads):
        client.post(f"{base}/scores", json=odd if n == 1 else sheet(bids, codes), headers=headers)
    assert client.get(f"{base}/facts", headers=heads[0]).status_code == 403  # supervisors only
    facts = client.get(f"{base}/facts", headers=auth(people, client, cast["supervisor"])).get_json()["items"]
    by_user = {f["user"]: f for f in facts}
    assert by_user[str(committee[1].id)]["abnormal_scores"] == 1
    assert by_user[str(committee[0].id)]["abnormal_scores"] == 0
    assert all(f["minutes_to_submit"] >= 42 and f["check_in_ip"] == "127.0.0.1" for f in facts)
