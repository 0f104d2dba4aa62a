"""What the accounts API takes and answers (core/schemas.py says how these are used). Shapes only: the
password policy, credit code check and sign-in rules stay in the services."""

from __future__ import annotations

from typing import Annotated, Literal, TypeAlias

from pydantic import Field

from core.schemas import Body, Id, Out, PageQuery, Text, Time

Secret: TypeAlias = Text[1, 1024]
Totp: TypeAlias = Text[1, 16]


class TokenBody(Body):
    username: Text[1, 150]
    password: Secret
    totp: Totp | None = None
    name: Text[100] = "api"


class TokenOut(Out):
    """The bearer token (shown once) and when it expires."""

    token: str
    expires_at: str
    id: str


class Person(Body):
    username: Text[1, 150]
    password: Secret
    email: Text[1, 320]
    display_name: Text[100] = ""
    phone: Text[32] | None = None


class RegistrationBody(Body):
    name: Text[1, 200]
    credit_code: Text[1, 64]
    user: Person


class RegistrationOut(Out):
    """The organisation and its first user."""

    organization: dict
    user: dict


class ClockBody(Body):
    now: Time


class CertificateBody(Body):
    """A signing certificate from a CSR, or an encryption certificate for an age recipient: one of them."""

    csr_pem: Text[20_000] | None = None
    recipient: Text[200] | None = None


class CertificateOut(Out):
    """The certificate."""

    serial: str
    profile: str
    certificate_pem: str
    not_before: str
    not_after: str


class RevokeBody(Body):
    reason: Text[1, 500]


class CertLoginBody(Body):
    certificate_pem: Text[1, 20_000]
    nonce: Text[1, 200]
    signature_b64: Text[1, 2_000]


class ChallengeOut(Out):
    """A one-use nonce."""

    nonce: str
    expires_at: str


class CustodianKeyBody(Body):
    recipient: Annotated[Text[1, 200], Field(description="an age X25519 recipient (age1...)")]


class MeOut(Out):
    """The signed-in user."""

    id: str
    username: str
    role: str
    organization: dict | None


class VerificationBody(Body):
    """The business licence goes as the multipart file ``licence`` beside this field."""

    legal_representative: Text[1, 50]


class DecisionBody(Body):
    approve: bool
    reason: Text[2000] = ""


class OrganizationBody(Body):
    kind: Literal["agency", "tenderee", "authority", "notary", "tenderer"]
    name: Text[1, 200]
    credit_code: Text[1, 64]


class OrganizationQuery(PageQuery):
    kind: Literal["tenderer", "agency", "tenderee", "authority", "notary", "platform"] | None = None
    q: Text[200] | None = None


class RenameBody(Body):
    name: Text[1, 200]


class ReasonBody(Body):
    reason: Text[1, 500]


class UsersQuery(PageQuery):
    q: Text[200] | None = None
    organization: Id | None = None


class NewUserBody(Body):
    organization: Id | None = Field(None, description="none for an expert")
    role: Literal["tenderer", "agency", "tenderee", "expert", "supervisor", "notary", "admin"]
    username: Text[1, 64]
    display_name: Text[1, 100]
    email: Text[1, 320]
    password: Secret = Field(description="a first password: they choose their own at the first sign-in")


class ProfileBody(Body):
    display_name: Text[1, 100]
    email: Text[1, 320]
    phone: Text[32] | None = None


class PasswordBody(Body):
    password: Secret
