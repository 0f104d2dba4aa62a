"""Identity before a signing certificate (issue 12, item 4): anyone registers for free and reads, only a
company the centre has verified gets a signing certificate, pays a deposit or bids, and a disputed credit
code is decided by the centre on the licences, not by who registered first."""

import io
from datetime import timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from accounts import pki
from accounts.models import Certificate, CompanyVerification, Organization, User
from audit.models import AuditEntry
from core import clock
from core.roles import Role
from demo.accounts import credit_code
from tests.bidding.test_tenders import auth
from tests.factories import PASSWORD

REAL_CODE = credit_code("110105", 10000155)  # well formed: both check characters are right
LICENCE = b"%PDF-1.4\n% business licence scan\n"


def _csr(name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
        .decode()
    )


def _register(client, username, name) -> dict:
    response = client.post(
        "/api/v1/organizations",
        json={
            "name": name,
            "credit_code": REAL_CODE,
            "user": {
                "username": username,
                "password": PASSWORD,
                "email": f"{username}@x.cn",
                "display_name": username,
            },
        },
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _token(client, username) -> dict:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def _submit_licence(client, headers, legal="王建国"):
    return client.post(
        "/api/v1/organizations/mine/verification",
        data={
            "legal_representative": legal,
            "licence": (io.BytesIO(LICENCE), "营业执照.pdf", "application/pdf"),
        },
        content_type="multipart/form-data",
        headers=headers,
    )


def _sign_in_admin(client, people, admin):
    client.post("/sign-in", data={"username": admin.username, "password": PASSWORD})
    client.post("/sign-in/code", data={"code": people.code(admin)})


def _csrf(client, url) -> str:
    return client.get(url).get_data(as_text=True).split('name="csrf_token" value="')[1].split('"')[0]


def test_an_impostor_who_registers_first_can_read_but_not_bid(client, people, session, tender):
    impostor = _register(client, "impostor", "中国建筑第八工程局有限公司")
    assert impostor["organization"]["verified"] is False
    headers = _token(client, "impostor")
    # Free to read and download (R-T2: downloading needs no extra registration step)...
    assert client.get(f"/api/v1/tenders/{tender.id}").status_code == 200
    docs = client.get(f"/api/v1/tenders/{tender.id}/documents").get_json()["items"]
    assert (
        client.get(f"/api/v1/tenders/{tender.id}/documents/{docs[0]['id']}/file", headers=headers).status_code
        == 200
    )
    # ...but no signing certificate, no deposit, no bid until the centre has verified the company.
    cert = client.post("/api/v1/certificates", json={"csr_pem": _csr("impostor")}, headers=headers)
    assert cert.status_code == 403 and cert.get_json()["error"]["code"] == "organization_unverified"
    deposit = client.post(
        f"/api/v1/tenders/{tender.id}/deposits",
        json={
            "lot": 1,
            "kind": "money",
            "amount": {"amount_fen": 100},
            "payer_account": "1",
            "payer_bank": "x",
        },
        headers=headers,
    )
    assert deposit.status_code in (403, 422)
    bid = client.post(f"/api/v1/tenders/{tender.id}/bids", json={"lot": 1}, headers=headers)
    assert bid.status_code == 403 and bid.get_json()["error"]["code"] == "organization_unverified"


def test_the_centre_decides_a_disputed_code_on_the_licences_in_the_pages(app, client, people, session):
    pki.ensure_ca(session)
    admin = people.user(Role.ADMIN, "centre-admin")
    _register(client, "impostor2", "中国建筑第八工程局有限公司")
    impostor = _token(client, "impostor2")
    assert _submit_licence(client, impostor, legal="李四").status_code == 201
    # The centre errs and verifies the impostor; it gets a signing certificate.
    pending = client.get("/api/v1/verifications", headers=auth(people, client, admin)).get_json()["items"]
    clock.advance(timedelta(seconds=31))
    assert (
        client.post(
            f"/api/v1/verifications/{pending[0]['id']}/decision",
            json={"approve": True},
            headers=auth(people, client, admin),
        ).status_code
        == 200
    )
    cert = client.post("/api/v1/certificates", json={"csr_pem": _csr("impostor2")}, headers=impostor)
    assert cert.status_code == 201, cert.get_json()
    # The real company registers the same code: not refused, and not told that the code was taken.
    real = _register(client, "cscec8", "中国建筑第八工程局有限公司")
    assert real["organization"]["verified"] is False
    real_headers = _token(client, "cscec8")
    assert _submit_licence(client, real_headers, legal="王建国").status_code == 201

    # The admin reviews in the pages: the queue shows the other claim, the review page warns.
    clock.advance(timedelta(seconds=31))
    browser = app.test_client()
    _sign_in_admin(browser, people, admin)
    queue = browser.get("/admin/verifications").get_data(as_text=True)
    assert "中国建筑第八工程局有限公司" in queue
    request_row = session.scalars(
        select(CompanyVerification).where(CompanyVerification.status == "pending")
    ).one()
    review = browser.get(f"/admin/verifications/{request_row.id}").get_data(as_text=True)
    assert "王建国" in review and "/licence" in review
    assert browser.get(f"/admin/verifications/{request_row.id}/licence").data == LICENCE
    refuse_without_reason = browser.post(
        f"/admin/verifications/{request_row.id}/decision",
        data={
            "csrf_token": _csrf(browser, f"/admin/verifications/{request_row.id}"),
            "reject": "1",
            "reason": "",
        },
    )
    assert refuse_without_reason.status_code == 302
    session.rollback()
    assert session.get(CompanyVerification, request_row.id).status == "pending"  # nothing changed
    approved = browser.post(
        f"/admin/verifications/{request_row.id}/decision",
        data={
            "csrf_token": _csrf(browser, f"/admin/verifications/{request_row.id}"),
            "approve": "1",
            "reason": "营业执照与国家企业信用信息公示系统一致",
        },
    )
    assert approved.status_code == 302
    session.rollback()
    orgs = {
        o.name + str(o.id): o
        for o in session.scalars(select(Organization).where(Organization.credit_code == REAL_CODE))
    }
    verified = [o for o in orgs.values() if o.verified_at is not None]
    assert [o.id for o in verified] == [session.get(CompanyVerification, request_row.id).organization_id]
    # The impostor lost the code: its certificate is revoked, it is told why, and it can no longer bid.
    impostor_user = session.scalar(select(User).where(User.username == "impostor2"))
    certs = session.scalars(select(Certificate).where(Certificate.user_id == impostor_user.id)).all()
    assert certs and all(c.revoked_at is not None for c in certs)
    again = client.post("/api/v1/certificates", json={"csr_pem": _csr("impostor2")}, headers=impostor)
    assert again.status_code == 403
    actions = set(session.scalars(select(AuditEntry.action)))
    assert {
        "accounts.verification_decided",
        "accounts.verification_withdrawn",
        "ca.certificate_revoked",
    } <= actions
    # The real company may now be certified.
    assert (
        client.post(
            "/api/v1/certificates", json={"csr_pem": _csr("cscec8")}, headers=real_headers
        ).status_code
        == 201
    )


def test_the_tenderer_asks_for_verification_from_its_dashboard(app, people, session):
    client = app.test_client()
    _register(client, "clerk", "华南建设集团有限公司")
    client.post("/sign-in", data={"username": "clerk", "password": PASSWORD})
    dashboard = client.get("/dashboard").get_data(as_text=True)
    assert 'href="/account/company"' in dashboard  # the to-do links to the page
    form = client.get("/account/company").get_data(as_text=True)
    csrf = form.split('name="csrf_token" value="')[1].split('"')[0]
    bad = client.post(
        "/account/company",
        data={
            "csrf_token": csrf,
            "legal_representative": "张三",
            "licence": (io.BytesIO(b"MZ"), "x.exe", "application/x-msdownload"),
        },
        content_type="multipart/form-data",
    )
    assert bad.status_code == 200 and session.scalar(select(CompanyVerification.id)) is None
    good = client.post(
        "/account/company",
        data={
            "csrf_token": csrf,
            "legal_representative": "张三",
            "licence": (io.BytesIO(LICENCE), "营业执照.pdf", "application/pdf"),
        },
        content_type="multipart/form-data",
    )
    assert good.status_code == 302
    page = client.get("/account/company").get_data(as_text=True)
    assert 'id="verification-form"' not in page  # one request at a time
