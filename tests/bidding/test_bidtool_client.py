"""bidtool's API client against a real server over HTTP: certificate sign-in, submission, receipt (R-B2)."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
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


def test_the_tenderers_whole_path_with_bidtool(server, people, session, tender, tmp_path, monkeypatch):
    """keygen → certificate from the platform CA → seal each part → submit → verify the receipt offline."""
    import json

    from click.testing import CliRunner

    from accounts import pki
    from bidtool.cli import cli
    from core.roles import Role

    monkeypatch.setenv("BIDTOOL_PASSPHRASE", "a long passphrase for tests")
    runner = CliRunner()
    user = people.user(Role.TENDERER, "cli-bidder")
    org = user.organization
    keys = tmp_path / "keys"
    result = runner.invoke(
        cli, ["keygen", str(keys), "--org", org.name, "--credit-code", org.credit_code, "--name", "张伟"]
    )
    assert result.exit_code == 0, result.output
    certificate = pki.issue_signing_certificate(session, user, (keys / "signing.csr").read_text())
    session.commit()
    (tmp_path / "cert.pem").write_text(certificate.pem)
    (tmp_path / "prices.json").write_text(
        json.dumps(
            {"currency": "CNY", "total_fen": 123456789, "items": [{"name": "总价", "amount_fen": 123456789}]}
        )
    )
    part_args = []
    for part in ("qualification", "technical", "commercial"):
        src = tmp_path / part
        src.mkdir()
        (src / f"{part}.txt").write_text(f"{part} 内容", encoding="utf-8")
        args = [
            "seal",
            "--to",
            tender.opening_key.recipient,
            "--key",
            str(keys),
            "--cert",
            str(tmp_path / "cert.pem"),
            "--tender",
            str(tender.id),
            "--part",
            part,
            str(src),
            str(tmp_path / f"{part}.age"),
        ]
        if part == "commercial":
            args[1:1] = ["--price-sheet", str(tmp_path / "prices.json")]
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        part_args += ["--part", f"{part}={tmp_path / f'{part}.age'}"]
    backup = client.Api(server).json("GET", "/api/v1/audit/checkpoint")["cosigned"]["size"]  # a backup then
    receipt = tmp_path / "receipt.json"
    result = runner.invoke(
        cli,
        [
            "--lang",
            "en",
            "submit",
            "--server",
            server,
            "--key",
            str(keys),
            "--cert",
            str(tmp_path / "cert.pem"),
            "--tender",
            str(tender.id),
            *part_args,
            "--receipt",
            str(receipt),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Submitted" in result.output
    (tmp_path / "receipt-key.pem").write_bytes(client.Api(server).request("GET", "/api/v1/receipt-key")[1])
    result = runner.invoke(
        cli,
        [
            "verify-receipt",
            "--key",
            str(tmp_path / "receipt-key.pem"),
            "--bid",
            str(tmp_path / "technical.age"),
            str(receipt),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "log proof was not checked" in result.output or "未核对日志证明" in result.output
    # With the log's and the witness's keys: the submission is in a witnessed checkpoint, remembered here.
    published = client.Api(server).json("GET", "/api/v1/audit/checkpoint")
    state = tmp_path / "checkpoints.json"
    trust = [
        "--log-key",
        published["verifier_key"],
        "--witness-key",
        published["witness_keys"][0],
        "--state",
        str(state),
    ]
    verify = [
        "--lang",
        "en",
        "verify-receipt",
        "--key",
        str(tmp_path / "receipt-key.pem"),
        *trust,
        str(receipt),
    ]
    result = runner.invoke(cli, [*verify, "--server", server])
    assert result.exit_code == 0, result.output
    assert "included in the witnessed checkpoint" in result.output and "witness.test/sunbid" in result.output
    assert state.exists()
    # A receipt whose proof was tampered with is refused.
    forged = json.loads(receipt.read_text())
    forged["proof"]["inclusion"] = forged["proof"]["inclusion"][:-1] or [
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
    ]
    (tmp_path / "forged.json").write_text(json.dumps(forged))
    result = runner.invoke(cli, [*verify[:-1], str(tmp_path / "forged.json")])
    assert result.exit_code == 1 and "inclusion_proof_invalid" in result.output
    # The database swapped for an older copy: bidtool remembers more than the platform now shows.
    from audit.models import AuditCosigned
    from tests.audit.tamper import roll_back

    session.rollback()  # see what the server committed
    assert max(session.scalars(select(AuditCosigned.size))) > backup
    roll_back(session, backup)
    result = runner.invoke(cli, ["--lang", "en", "checkpoint", "--server", server, *trust])
    assert result.exit_code == 1, result.output
    assert "log_rolled_back" in result.output and "WARNING" in result.output
    # after the deadline the same command is refused with the API's code and exit status 1
    from core import clock

    clock.freeze(tender.bid_deadline)
    result = runner.invoke(
        cli,
        [
            "submit",
            "--server",
            server,
            "--key",
            str(keys),
            "--cert",
            str(tmp_path / "cert.pem"),
            "--tender",
            str(tender.id),
            *part_args,
        ],
    )
    assert result.exit_code == 1 and "deadline_passed" in result.output


def test_bidtool_decrypts_online_at_the_opening(
    server, client, people, cast, session, tender, tmp_path, monkeypatch
):
    """`bidtool decrypt` unwraps the file keys locally and the platform opens the parts (在线解密)."""
    from click.testing import CliRunner
    from cryptography.hazmat.primitives import serialization

    from bidtool.cli import cli
    from bidtool.keys import encrypt_private_key_pem
    from core import clock
    from tests.bidding.test_opening import start, submit

    bidders = [submit(client, people, session, tender, tmp_path, f"cli-open{n}") for n in range(3)]
    assert start(client, people, cast, tender).get_json()["status"] == "decrypting"
    bidder, bid_id, sealed = bidders[0]
    keys = tmp_path / "cli-keys"
    keys.mkdir()
    (keys / "identity.txt").write_text(str(bidder.identity) + "\n")
    monkeypatch.setenv("BIDTOOL_PASSPHRASE", "passphrase for the test key")
    (keys / "signing-key.pem").write_bytes(
        encrypt_private_key_pem(bidder.key, b"passphrase for the test key")
    )
    (tmp_path / "cert.pem").write_bytes(bidder.cert.public_bytes(serialization.Encoding.PEM))
    part_args = []
    for part, body in sealed.items():
        (tmp_path / f"open-{part}.age").write_bytes(body)
        part_args += ["--part", f"{part}={tmp_path / f'open-{part}.age'}"]
    result_args = [
        "--lang",
        "en",
        "decrypt",
        "--server",
        server,
        "--key",
        str(keys),
        "--cert",
        str(tmp_path / "cert.pem"),
        "--tender",
        str(tender.id),
        "--bid",
        bid_id,
        *part_args,
    ]
    result = CliRunner().invoke(cli, result_args)
    assert result.exit_code == 0, result.output
    assert result.output.count(": decrypted") == 3
    # a second attempt answers for every part instead of printing nothing
    again = CliRunner().invoke(cli, ["--lang", "en", *result_args[2:]])
    assert again.exit_code == 0 and again.output.count("already decrypted earlier") == 3, again.output
    clock.advance(timedelta(minutes=31))
    late = CliRunner().invoke(
        cli,
        [
            "decrypt",
            "--server",
            server,
            "--key",
            str(keys),
            "--cert",
            str(tmp_path / "cert.pem"),
            "--tender",
            str(tender.id),
            "--bid",
            bid_id,
            *part_args,
        ],
    )
    assert late.exit_code == 1 and "decryption_window_closed" in late.output
