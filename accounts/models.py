"""Organisations, users and API tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import clock
from core.db import Base, UtcDateTime, UuidPK
from core.roles import Role

ORG_KINDS = ("tenderer", "agency", "tenderee", "authority", "platform")
ROLES = tuple(r.value for r in Role)
CERT_PROFILES = ("tenderer_signing", "tenderer_encryption", "expert", "staff", "service")

# Which organisation kind each role belongs to; experts are individuals.
ROLE_ORG_KIND = {
    Role.TENDERER: "tenderer",
    Role.AGENCY: "agency",
    Role.TENDEREE: "tenderee",
    Role.SUPERVISOR: "authority",
    Role.ADMIN: "platform",
}


class Organization(UuidPK, Base):
    """A company or body: tenderer, agency, tenderee, supervising authority or the platform itself."""

    __tablename__ = "organizations"
    __table_args__ = (CheckConstraint(f"kind IN {ORG_KINDS!r}", name="kind"),)

    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    # 基本账户: deposits in money must come from here (R-D1).
    basic_account_bank: Mapped[str | None] = mapped_column(String(100), default=None)
    basic_account_no: Mapped[str | None] = mapped_column(String(40), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=clock.now)

    users: Mapped[list[User]] = relationship(back_populates="organization")


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
