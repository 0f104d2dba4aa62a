"""The platform CA in the platform and certificate sign-in (issue 3 items 1 and 2)."""

import base64
import json
import re
import shutil
import subprocess
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from accounts import certlogin, pki
from audit.models import AuditEntry
from core import clock
from core.roles import Role
from crypto import age, ca


@pytest.fixture
def authority(session):
    row = pki.ensure_ca(session)
    session.commit()
    return row


def make_csr(org="随便写的公司", cn="某人"):
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                    x509.NameAttribute(NameOID.COMMON_NAME, cn),
                ]
            )
        )
        .sign(key, hashes.SHA256())
    )
    return key, csr.public_bytes(serialization.Encoding.PEM).decode()


def bearer(people, client, user):
    return {"Authorization": f"Bearer {people.token(client, user)}"}


def issue(client, people, user):
    key, csr = make_csr()
    response = client.post(
        "/api/v1/certificates", json={"csr_pem": csr}, headers=bearer(people, client, user)
    )
    assert response.status_code == 201, response.get_json()
    return key, response.get_json()


def test_tenderer_gets_a_signing_certificate_with_the_accounts_identity(client, people, authority):
    user = people.user(Role.TENDERER, "signer")
    _key, body = issue(client, people, user)
    cert = x509.load_pem_x509_certificate(body["certificate_pem"].encode())
    identity = ca.identity_of(cert)
    assert body["profile"] == "tenderer_signing"
    # the subject is the verified registration, not what the request asked for
    assert identity.credit_code == user.organization.credit_code
    assert identity.org_name == user.organization.name
    assert len(body["chain"]) == 2


def test_issued_certificate_verifies_with_openssl_and_revocation_shows_in_the_crl(
    client, people, authority, tmp_path
):
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    user = people.user(Role.TENDERER, "ossl")
    _key, body = issue(client, people, user)
    ca_body = client.get("/api/v1/ca").get_json()
    (tmp_path / "leaf.pem").write_text(body["certificate_pem"])
    (tmp_path / "root.pem").write_text(ca_body["chain"][1])
    (tmp_path / "issuing.pem").write_text(ca_body["chain"][0])
    (tmp_path / "crl.pem").write_text(ca_body["crl"])
    command = [
        "openssl",
        "verify",
        "-attime",
        str(int(clock.now().timestamp())),
        "-CAfile",
        "root.pem",
        "-untrusted",
        "issuing.pem",
        "-crl_check",
        "-CRLfile",
        "crl.pem",
        "leaf.pem",
    ]
    assert subprocess.run(command, cwd=tmp_path, capture_output=True, check=False).returncode == 0
    revoked = client.post(
        f"/api/v1/certificates/{body['serial']}/revoke",
        json={"reason": "key_compromise"},
        headers=bearer(people, client, user),
    )
    assert revoked.status_code == 200
    new_crl = client.get("/api/v1/ca").get_json()
    assert new_crl["crl_number"] > ca_body["crl_number"]
    (tmp_path / "crl.pem").write_text(new_crl["crl"])
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "revoked" in (result.stdout + result.stderr)


def test_encryption_certificate_binds_the_age_recipient(client, people, authority):
    tenderer, agent = people.user(Role.TENDERER, "enc"), people.user(Role.AGENCY, "noenc")
    identity = age.generate_identity()
    response = client.post(
        "/api/v1/certificates",
        json={"recipient": str(identity.recipient)},
        headers=bearer(people, client, tenderer),
    )
    assert response.status_code == 201 and response.get_json()["profile"] == "tenderer_encryption"
    cert = x509.load_pem_x509_certificate(response.get_json()["certificate_pem"].encode())
    raw = cert.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert raw == identity.recipient.public_bytes
    refused = client.post(
        "/api/v1/certificates",
        json={"recipient": str(identity.recipient)},
        headers=bearer(people, client, agent),
    )
    assert refused.status_code == 403
    bad = client.post(
        "/api/v1/certificates",
        json={"recipient": "age1notarecipient"},
        headers=bearer(people, client, tenderer),
    )
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_recipient"


def test_staff_and_experts_get_their_profiles(client, people, authority):
    assert issue(client, people, people.user(Role.AGENCY))[1]["profile"] == "staff"
    assert issue(client, people, people.user(Role.EXPERT))[1]["profile"] == "expert"


def test_a_bad_csr_is_refused_with_its_code(client, people, authority):
    user = people.user(Role.TENDERER, "badcsr")
    _key, csr = make_csr()
    tampered = csr.replace(csr.splitlines()[3], csr.splitlines()[3][::-1])
    response = client.post(
        "/api/v1/certificates", json={"csr_pem": tampered}, headers=bearer(people, client, user)
    )
    assert response.status_code == 422 and response.get_json()["error"]["code"] in {"csr_invalid"}


def login(client, cert_pem, key, nonce=None):
    nonce = nonce or client.post("/api/v1/auth/challenge").get_json()["nonce"]
    signature = key.sign(certlogin.message(nonce), ec.ECDSA(hashes.SHA256()))
    return client.post(
        "/api/v1/auth/cert-login",
        json={
            "certificate_pem": cert_pem,
            "nonce": nonce,
            "signature_b64": base64.b64encode(signature).decode(),
        },
    )


def test_certificate_sign_in_gives_a_token_and_a_nonce_works_once(client, people, session, authority):
    user = people.user(Role.TENDERER, "certlogin")
    key, body = issue(client, people, user)
    nonce = client.post("/api/v1/auth/challenge").get_json()["nonce"]
    response = login(client, body["certificate_pem"], key, nonce)
    assert response.status_code == 201
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {response.get_json()['token']}"})
    assert me.get_json()["username"] == "certlogin"
    again = login(client, body["certificate_pem"], key, nonce)
    assert again.status_code == 401 and again.get_json()["error"]["code"] == "challenge_invalid"


def test_certificate_sign_in_refusals_have_their_codes_and_are_logged(client, people, session, authority):
    user = people.user(Role.TENDERER, "refused")
    key, body = issue(client, people, user)
    other_key = ec.generate_private_key(ec.SECP256R1())
    wrong = login(client, body["certificate_pem"], other_key)
    assert wrong.status_code == 401 and wrong.get_json()["error"]["code"] == "signature_invalid"
    foreign = ca.create_ca("Foreign CA", b"pw", clock.now())
    foreign_cert = ca.issue_from_csr(
        foreign.load_issuer(b"pw"),
        make_csr()[1].encode(),
        ca.Profile.TENDERER_SIGNING,
        subject_override=ca.SubjectInfo("某公司", "某人", user.organization.credit_code),
        now=clock.now(),
    )
    untrusted = login(client, foreign_cert.public_bytes(serialization.Encoding.PEM).decode(), key)
    assert untrusted.get_json()["error"]["code"] == "certificate_untrusted"
    clock.advance(timedelta(days=3 * 365))
    expired = login(client, body["certificate_pem"], key)
    assert expired.get_json()["error"]["code"] == "certificate_expired"
    clock.advance(timedelta(days=-3 * 365))
    pki.revoke(session, user, body["serial"], "superseded")
    session.commit()
    revoked = login(client, body["certificate_pem"], key)
    assert revoked.get_json()["error"]["code"] == "certificate_revoked"
    session.rollback()
    failures = session.scalars(
        select(AuditEntry.leaf)
        .where(AuditEntry.action == "accounts.sign_in_failed")
        .order_by(AuditEntry.index)
    ).all()
    reasons = [json.loads(leaf)["data"]["reason"] for leaf in failures]
    assert reasons == ["signature", "certificate_untrusted", "certificate_expired", "certificate_revoked"]


def test_certificate_sign_in_page(client, people, authority):
    user = people.user(Role.TENDERER, "certpage")
    key, body = issue(client, people, user)
    page = client.get("/sign-in/certificate").get_data(as_text=True)
    nonce = re.search(r'id="login-command"[^>]*>(.*?)</pre>', page, re.S).group(1).split()[-1]
    signature = base64.b64encode(key.sign(certlogin.message(nonce), ec.ECDSA(hashes.SHA256()))).decode()
    code = base64.b64encode(
        json.dumps({"certificate": body["certificate_pem"], "nonce": nonce, "signature": signature}).encode()
    ).decode()
    response = client.post("/sign-in/certificate", data={"login_code": code})
    assert response.headers["Location"] == "/dashboard"
    assert client.get("/dashboard").status_code == 200


def test_ca_commands(runner, people, tmp_path, authority):
    people.user(Role.TENDERER, "cli-user")
    _key, csr = make_csr()
    (tmp_path / "req.csr").write_text(csr)
    issued = runner.invoke(args=["ca", "issue", str(tmp_path / "req.csr"), "--user", "cli-user"])
    assert issued.exit_code == 0 and issued.output.startswith("-----BEGIN CERTIFICATE-----")
    service = runner.invoke(args=["ca", "issue", str(tmp_path / "req.csr"), "--service", "receipt-signer"])
    cert = x509.load_pem_x509_certificate(service.output.encode())
    assert ca.identity_of(cert).profile is ca.Profile.SERVICE
    chain = runner.invoke(args=["ca", "chain"]).output
    assert chain.count("BEGIN CERTIFICATE") == 2
    assert "BEGIN X509 CRL" in runner.invoke(args=["ca", "crl"]).output
    people.user(Role.ADMIN, "ca-admin")
    serial = format(x509.load_pem_x509_certificate(issued.output.encode()).serial_number, "x")
    assert runner.invoke(args=["ca", "revoke", serial, "--reason", "superseded"]).exit_code == 0
    assert runner.invoke(args=["ca", "revoke", serial]).exit_code != 0  # already revoked


def test_ca_private_keys_are_encrypted_at_rest(session, authority):
    for pem in (authority.root_key_pem, authority.issuing_key_pem):
        assert "ENCRYPTED PRIVATE KEY" in pem
        with pytest.raises(TypeError):
            serialization.load_pem_private_key(pem.encode(), password=None)


def test_certificates_page_issues_from_a_csr_and_a_recipient(client, people, session, authority):
    from tests.factories import PASSWORD

    user = people.user(Role.TENDERER, "page-certs")
    client.post("/sign-in", data={"username": user.username, "password": PASSWORD})
    _key, csr = make_csr()
    assert client.post("/account/certificates/signing", data={"csr-csr_pem": csr}).status_code == 302
    recipient = str(age.generate_identity().recipient)
    assert (
        client.post("/account/certificates/encryption", data={"rcp-recipient": recipient}).status_code == 302
    )
    bad = client.post(
        "/account/certificates/encryption", data={"rcp-recipient": "age1nope"}, follow_redirects=True
    )
    assert bad.status_code == 200 and 'class="flash flash-error"' in bad.get_data(as_text=True)
    page = client.get("/account/certificates").get_data(as_text=True)
    # The kinds in words, never the profile codes (issue 13).
    assert page.count("签名（投标人）") == 1 and page.count("加密（投标人）") == 1
    assert "tenderer_signing" not in page


def test_the_full_chain_verifies_with_crl_check_all_and_a_revoked_leaf_is_refused(
    client, people, authority, tmp_path
):
    """Issue 18 item 6: the root publishes its CRL too, and every certificate names where its CRL is."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    user = people.user(Role.TENDERER, "fullchain")
    _key, body = issue(client, people, user)
    leaf = x509.load_pem_x509_certificate(body["certificate_pem"].encode())
    ca_body = client.get("/api/v1/ca").get_json()
    issuing = x509.load_pem_x509_certificate(ca_body["chain"][0].encode())

    def distribution_point(cert):
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        return points[0].full_name[0].value

    assert distribution_point(leaf).endswith("/api/v1/ca/issuing.crl")
    assert distribution_point(issuing).endswith("/api/v1/ca/root.crl")
    # the CRLs are served where the certificates say, as DER
    for cert, name in ((leaf, "issuing"), (issuing, "root")):
        path = "/" + distribution_point(cert).split("/", 3)[3]
        served = client.get(path)
        assert served.status_code == 200 and served.content_type == "application/pkix-crl"
        (tmp_path / f"{name}.crl").write_bytes(served.data)
    (tmp_path / "leaf.pem").write_text(body["certificate_pem"])
    (tmp_path / "root.pem").write_text(ca_body["chain"][1])
    (tmp_path / "issuing.pem").write_text(ca_body["chain"][0])
    command = [
        "openssl",
        "verify",
        "-attime",
        str(int(clock.now().timestamp())),
        "-CAfile",
        "root.pem",
        "-untrusted",
        "issuing.pem",
        "-crl_check_all",
        "-CRLfile",
        "issuing.pem.crl",
        "-CRLfile",
        "root.pem.crl",
        "leaf.pem",
    ]
    for name in ("issuing", "root"):
        subprocess.run(
            ["openssl", "crl", "-inform", "DER", "-in", f"{name}.crl", "-out", f"{name}.pem.crl"],
            cwd=tmp_path,
            check=True,
        )
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    # without the root's CRL the whole chain cannot be checked
    without_root = [arg for arg in command if arg != "root.pem.crl"]
    without_root.remove("-CRLfile")
    assert subprocess.run(without_root, cwd=tmp_path, capture_output=True, check=False).returncode != 0
    revoked = client.post(
        f"/api/v1/certificates/{body['serial']}/revoke",
        json={"reason": "key_compromise"},
        headers=bearer(people, client, user),
    )
    assert revoked.status_code == 200
    (tmp_path / "issuing.crl").write_bytes(client.get("/api/v1/ca/issuing.crl").data)
    subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", "issuing.crl", "-out", "issuing.pem.crl"],
        cwd=tmp_path,
        check=True,
    )
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "revoked" in result.stdout + result.stderr
