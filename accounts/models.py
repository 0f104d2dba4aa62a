"""Organisations, users and API tokens."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import clock
from core.db import Base, UtcDateTime, UuidPK
from core.roles import Role

ORG_KINDS = ("tenderer", "agency", "tenderee", "authority", "platform")
ROLES = tuple(r.value for r in Role)

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
