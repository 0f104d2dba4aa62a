"""bidtool's API client against a real server over HTTP: certificate sign-in, submission, receipt (R-B2)."""

import threading

import pytest
from werkzeug.serving import make_server

from bidtool import client
from crypto import bidpack, receipts
from tests.bidding.test_bids import Tenderer


@pytest.fixture
def server(app):
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(timeout=10)


def test_bidtool_signs_in_with_its_certificate_submits_and_verifies_the_receipt(
    server, people, session, tender, tmp_path
):
    bidder = Tenderer(people, session, "bidtool-user")
    api = client.Api(server)
    token = client.certificate_sign_in(api, bidder.cert, bidder.key)
    assert token.startswith("sbt_")
    assert client.opening_key(api, str(tender.id)) == tender.opening_key.recipient
    parts = {}
    for part in bidpack.PARTS:
        body, _sig = bidder.seal(tmp_path, tender, part, content=part.encode() * 100_000)
        out = tmp_path / f"{part}.age"
        out.write_bytes(body)
        sig_source = sorted(tmp_path.glob(f"src-{part}-*.age.sig"))[-1]
        parts[part] = (out, sig_source)
    seen = []
    receipt = client.submit_bid(
        api, str(tender.id), 1, parts, progress=lambda part, done, total: seen.append(part)
    )
    public = receipts.load_public_key_pem(api.request("GET", "/api/v1/receipt-key")[1])
    payload = receipts.verify_receipt(receipt, public)
    assert {p["part"] for p in payload["parts"]} == set(bidpack.PARTS)
    assert set(seen) == set(bidpack.PARTS)


def test_refusals_arrive_with_their_stable_codes(server, people, session, tender):
    api = client.Api(server)
    with pytest.raises(client.ApiError) as err:
        api.json("POST", f"/api/v1/tenders/{tender.id}/bids", {"lot": 1})
    assert err.value.status == 401 and err.value.code == "unauthenticated"
    with pytest.raises(client.ApiError) as err:
        client.Api("http://127.0.0.1:9").json("GET", "/api/v1/tenders")
    assert err.value.code == "server_unreachable"


def test_login_code_is_accepted_by_the_sign_in_page(people, session, tender):
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from accounts import cert_views, certlogin

    bidder = Tenderer(people, session, "code-user")
    pem = bidder.cert.public_bytes(serialization.Encoding.PEM).decode()
    certificate, nonce, signature = cert_views.parse_login_code(
        client.login_code(pem, bidder.key, "nonce-123")
    )
    assert (certificate, nonce) == (pem, "nonce-123")
    # the client signs exactly the message the server checks (raises if not)
    bidder.cert.public_key().verify(
        base64.b64decode(signature), certlogin.message(nonce), ec.ECDSA(hashes.SHA256())
    )
