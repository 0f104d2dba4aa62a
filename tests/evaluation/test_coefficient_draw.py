"""The works benchmark's downward coefficient is drawn from the opened prices once the decryption window
closes, and any bidder can recompute it from the signed opening record (R-B7)."""

import hashlib
import json
from datetime import timedelta
from decimal import Decimal

from bidding.models import Opening
from core import clock
from evaluation.formulas import coefficient_seed, draw_coefficient
from evaluation.models import ScoringScheme
from evaluation.scheme import parse_scheme, scheme_json
from tests.bidding.test_opening import decrypt, file_keys, start, submit
from tests.bidding.test_tenders import auth
from tests.evaluation.test_scheme import works_average


def test_seed_does_not_depend_on_listing_order():
    assert coefficient_seed("t", {"b": 2, "a": None}) == coefficient_seed("t", {"a": None, "b": 2})
    assert coefficient_seed("t", {"a": 1}) != coefficient_seed("t", {"a": 2})


def test_coefficient_is_drawn_after_the_decryption_window_and_can_be_recomputed(
    client, people, cast, session, tender, tmp_path
):
    scheme, subject = parse_scheme(works_average(), "works")
    session.add(
        ScoringScheme(
            tender_id=tender.id,
            method=scheme.method,
            subject=subject,
            price_formula="average_benchmark",
            price_points=scheme.price.full_points,
            definition=scheme_json(scheme, subject),
            version=1,
            updated_by_id=cast["agent"].id,
        )
    )
    session.commit()
    bidders = [submit(client, people, session, tender, tmp_path, f"bidder{n}") for n in range(3)]
    assert start(client, people, cast, tender).get_json()["status"] == "decrypting"
    for bidder, bid_id, sealed in bidders:
        response = decrypt(client, people, tender, bidder, bid_id, file_keys(bidder, sealed))
        assert response.status_code == 200, response.get_json()
    url = f"/api/v1/tenders/{tender.id}/scoring-scheme"
    assert "coefficient_draw" not in client.get(url).get_json()  # the window is still open

    session.expire_all()
    clock.freeze(session.get(Opening, tender.id).decrypt_until + timedelta(seconds=1))
    draw = client.get(url).get_json()["coefficient_draw"]
    assert draw["value"] in {"0.95", "0.96", "0.97"}

    record = client.get(
        f"/api/v1/tenders/{tender.id}/opening/record", headers=auth(people, client, bidders[0][0].user)
    ).get_json()["record"]
    seed = coefficient_seed(record["tender"], {row["bid"]: row["price_fen"] for row in record["bids"]})
    assert hashlib.sha256(seed).hexdigest() == draw["seed_sha256"]
    choices = [Decimal(c) for c in works_average()["price"]["coefficients"]]
    assert str(draw_coefficient(seed, choices)) == draw["value"]
    assert json.loads(seed)["prices"]  # the opened prices are what the draw depends on
