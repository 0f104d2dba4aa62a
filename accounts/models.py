"""Organisations, users and API tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import clock
from core.db import Base, UtcDateTime, UuidPK
from core.errors import Forbidden
from core.roles import Role

ORG_KINDS = ("tenderer", "agency", "tenderee", "authority", "notary", "platform")
ROLES = tuple(r.value for r in Role)
CERT_PROFILES = ("tenderer_signing", "tenderer_encryption", "expert", "staff", "service")

# Which organisation kind each role belongs to; experts are individuals.
ROLE_ORG_KIND = {
    Role.TENDERER: "tenderer",
    Role.AGENCY: "agency",
    Role.TENDEREE: "tenderee",
    Role.SUPERVISOR: "authority",
    Role.NOTARY: "notary",
    Role.ADMIN: "platform",
}


class Organization(UuidPK, Base):
    """A company or body: tenderer, agency, tenderee, supervising authority or the platform itself."""

    __tablename__ = "organizations"
    __table_args__ = (
        CheckConstraint(f"kind IN {ORG_KINDS!r}", name="kind"),
        # A credit code belongs to one verified organisation; unverified claims may share it until the
        # centre decides (a stranger registering a real company's code first wins nothing).
        Index(
            "uq_organizations_verified_credit_code",
            "credit_code",
            unique=True,
            sqlite_where=text("verified_at IS NOT NULL"),
            postgresql_where=text("verified_at IS NOT NULL"),
        ),
        Index("ix_organizations_credit_code", "credit_code"),
    )

    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18))
    kind: Mapped[str] = mapped_column(String(16))
    # Identity proven (the centre checked the business licence, or a recognised CA's certificate, or
    # the centre created the organisation itself): only then may it get a signing certificate and bid.
    verified_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    verification_method: Mapped[str | None] = mapped_column(String(16), default=None)
    # A deactivated organisation's people cannot sign in; its records stay (R-R2: 15 years).
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # 基本账户: deposits in money must come from here (R-D1).
    basic_account_bank: Mapped[str | None] = mapped_column(String(100), default=None)
    basic_account_no: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)

    users: Mapped[list[User]] = relationship(back_populates="organization")

    @property
    def verified(self) -> bool:
        return self.verified_at is not None


class User(UuidPK, Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN {ROLES!r}", name="role"),
        CheckConstraint("role = 'expert' OR organization_id IS NOT NULL", name="org_required"),
    )

    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    role: Mapped[str] = mapped_column(String(16))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"), default=None)
    password_hash: Mapped[str] = mapped_column(String(200))
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set when an administrator chose the password: the person picks their own at the next sign-in.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str | None] = mapped_column(String(8), default=None)
    # TOTP seed, AES-GCM sealed with the data key; the pending one waits for its first code.
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    totp_pending_secret: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    # Highest time step accepted so far: a code is never accepted twice (replay guard).
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    # Bumped on password change and "sign out everywhere": old session cookies stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # The age recipient this person holds opening-key shares under (agency staff, supervisors, notaries).
    custodian_recipient: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)

    organization: Mapped[Organization | None] = relationship(back_populates="users")

    # Flask-Login protocol
    is_anonymous = False

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    @property
    def totp_enabled(self) -> bool:
        return self.totp_secret is not None

    @property
    def role_enum(self) -> Role:
        return Role(self.role)

    @property
    def org(self) -> Organization:
        """The organisation this user acts for. Everyone but an expert has one (``org_required``); an
        expert reaching code that needs one is refused, not crashed on None."""
        if self.organization is None:
            raise Forbidden(_l("You act for no organisation here."), code="organization_required")
        return self.organization


class ApiToken(UuidPK, Base):
    """A bearer token for the API. Only its SHA-256 is stored; the token itself is shown once."""

    __tablename__ = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_user", "user_id", "created_at"),)

    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="api")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)

    user: Mapped[User] = relationship()

    def is_valid(self, at: datetime) -> bool:
        return self.revoked_at is None and at < self.expires_at


class CertificateAuthority(Base):
    """The platform CA (平台 CA): a root and an issuing CA, keys encrypted with SUNBID_CA_PASSPHRASE.

    One row. The current CRL is kept with its number, which grows with every CRL issued.
    """

    __tablename__ = "certificate_authorities"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(200))
    root_pem: Mapped[str] = mapped_column(Text)
    issuing_pem: Mapped[str] = mapped_column(Text)
    root_key_pem: Mapped[str] = mapped_column(Text)
    issuing_key_pem: Mapped[str] = mapped_column(Text)
    crl_number: Mapped[int] = mapped_column(Integer, default=0)
    crl_pem: Mapped[str | None] = mapped_column(Text, default=None)
    crl_next_update: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # The root's own CRL (of issuing CAs revoked): what `openssl verify -crl_check_all` needs for the chain.
    root_crl_number: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    root_crl_pem: Mapped[str | None] = mapped_column(Text, default=None)
    root_crl_next_update: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)


class CrlRecord(Base):
    """Every CRL the platform CA published, kept: a signature is judged by the CRL in force when the
    platform received it (a certificate revoked later does not undo a bid received before)."""

    __tablename__ = "crl_history"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    this_update: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    next_update: Mapped[datetime] = mapped_column(UtcDateTime)
    pem: Mapped[str] = mapped_column(Text)


class Certificate(UuidPK, Base):
    """A certificate the platform CA issued, to a user (and through them their organisation)."""

    __tablename__ = "certificates"
    __table_args__ = (
        CheckConstraint(f"profile IN {CERT_PROFILES!r}", name="profile"),
        Index("ix_certificates_user", "user_id", "created_at"),
    )

    serial: Mapped[str] = mapped_column(String(40), unique=True)  # hex
    profile: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("organizations.id"), default=None
    )
    subject: Mapped[str] = mapped_column(String(500))
    pem: Mapped[str] = mapped_column(Text)
    # SHA-256 of the raw public key: finds the encryption certificate of an age recipient.
    public_key_sha256: Mapped[str] = mapped_column(String(64), index=True)
    not_before: Mapped[datetime] = mapped_column(UtcDateTime)
    not_after: Mapped[datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    revocation_reason: Mapped[str | None] = mapped_column(String(64), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)

    user: Mapped[User | None] = relationship()


class AuthChallenge(UuidPK, Base):
    """A one-use nonce for certificate sign-in; only its hash is kept."""

    __tablename__ = "auth_challenges"

    nonce_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


VERIFICATION_METHODS = ("licence", "centre", "grandfathered")


class CompanyVerification(UuidPK, Base):
    """A company's request to be verified: the scan of its business licence (营业执照) and its legal
    representative's name, for the centre to check against the national enterprise credit register.

    Several organisations may claim one credit code; the centre's decision on these requests settles
    which one it belongs to (the losing claimant is told why; a verified holder that loses it is
    unverified and its signing certificates are revoked).
    """

    __tablename__ = "company_verifications"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'rejected')", name="status"),
        Index("ix_company_verifications_status", "status", "submitted_at"),
        Index("ix_company_verifications_org", "organization_id", "submitted_at"),
    )

    organization_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("organizations.id"))
    credit_code: Mapped[str] = mapped_column(String(18))
    legal_representative: Mapped[str] = mapped_column(String(50))
    # The licence scan in the file store (content-addressed).
    document_sha256: Mapped[str] = mapped_column(String(64))
    document_name: Mapped[str] = mapped_column(String(200))
    document_type: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    submitted_by_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("users.id"), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    reason: Mapped[str] = mapped_column(Text, default="")

    organization: Mapped[Organization] = relationship()


class UserSession(Base):
    """A signed-in browser session, kept on the server so that signing out (or being disabled, or a
    password change) ends it everywhere: the cookie only names it. Only the id's SHA-256 is stored."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user", "user_id", "ended_at"),)

    id_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    end_reason: Mapped[str | None] = mapped_column(String(32), default=None)
    ip: Mapped[str | None] = mapped_column(String(64), default=None)
    user_agent: Mapped[str] = mapped_column(String(200), default="")


class SignInThrottle(Base):
    """Failed sign-ins counted per (user name as typed, address) and per address, never per account
    alone: a stranger guessing passwords slows down only their own address, and the answer is the
    same whether the user name exists or not. ``key`` is a SHA-256 of what is counted."""

    __tablename__ = "sign_in_throttle"

    key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    # SHA-256 of the user name the count is about (none for an address-wide count): an administrator
    # unlocks a person by name without learning from which addresses the failures came.
    name_key: Mapped[bytes | None] = mapped_column(LargeBinary(32), default=None, index=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class RecoveryCode(Base):
    """One-time codes that stand in for the second factor when the phone is lost (shown once, stored as
    SHA-256: each has 50 random bits). Generating new codes voids the old ones."""

    __tablename__ = "recovery_codes"
    __table_args__ = (Index("ix_recovery_codes_user", "user_id"),)

    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
