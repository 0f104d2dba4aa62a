"""Configuration from environment variables prefixed ``SUNBID_``.

Embedded mode (the default) needs none of them: SQLite and secrets live in the instance folder.
Production mode (``SUNBID_ENV=production``) refuses to start without the secrets and services it needs,
rather than silently generating keys that another web host would not share.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, ClassVar

from core import bodies

ROOT = Path(__file__).resolve().parent.parent


def _env(name: str, default: Any = None) -> Any:
    return os.environ.get(f"SUNBID_{name}", default)


def _flag(name: str, default: bool = False) -> bool:
    raw = _env(name)
    if raw is None:
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    raw = _env(name)
    return default if raw in (None, "") else int(raw)


class Config:
    """Settings shared by every mode; read when ``from_env()`` runs, not at import."""

    ENV = "development"
    TESTING = False
    DEPOSIT_ACCOUNT_DEFAULTS: ClassVar[dict[str, str]] = {}

    @classmethod
    def from_env(cls) -> dict[str, Any]:
        instance = Path(_env("INSTANCE_PATH", ROOT / "instance")).resolve()
        redis_url = _env("REDIS_URL") or None
        values: dict[str, Any] = {
            "ENV": cls.ENV,
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": _env("DATABASE_URL") or f"sqlite:///{instance / 'sunbid.db'}",
            "REDIS_URL": redis_url,
            # Where the web processes learn at once that an opening hall changed (bidding.hall_changes);
            # by default the Redis of the broker. Without one, each process re-reads a hall every 0.5 s.
            "HALL_CACHE_URL": _env("HALL_CACHE_URL") or redis_url,
            "SANDBOX": _flag("SANDBOX"),
            "SECRET_KEY": _env("SECRET_KEY"),
            "DATA_KEY": _env("DATA_KEY"),
            "AUDIT_SIGNER_KEY": _env("AUDIT_SIGNER_KEY"),
            "CA_PASSPHRASE": _env("CA_PASSPHRASE"),
            "AUDIT_ORIGIN": _env("AUDIT_ORIGIN", "sunbid.local/audit"),
            # A checkpoint is signed into the log head on every append; one is also kept in the history
            # table every this many entries (and on demand), so verifying a long log stays cheap.
            "AUDIT_CHECKPOINT_EVERY": _int("AUDIT_CHECKPOINT_EVERY", 1024),
            "AUDIT_CHECKPOINT_SECONDS": _int("AUDIT_CHECKPOINT_SECONDS", 60),
            # The witness that cosigns the log's checkpoints (audit.witness, run by the supervising
            # authority): its submission URL and its cosignature key. Verification requires it.
            "WITNESS_URL": _env("WITNESS_URL") or None,
            "WITNESS_KEY": _env("WITNESS_KEY") or None,
            "STORAGE_PATH": _env("STORAGE_PATH") or str(instance / "storage"),
            "PUBLIC_URL": _env("PUBLIC_URL", "http://127.0.0.1:5000"),
            "PROXY_HOPS": _int("PROXY_HOPS", 0),
            "SMTP_HOST": _env("SMTP_HOST"),
            "SMTP_PORT": _int("SMTP_PORT", 25),
            "SMTP_USER": _env("SMTP_USER"),
            "SMTP_PASSWORD": _env("SMTP_PASSWORD"),
            "SMTP_STARTTLS": _flag("SMTP_STARTTLS"),
            "MAIL_FROM": _env("MAIL_FROM", "SunBid <noreply@sunbid.local>"),
            # Where spoken calls are left for the telephony gateway (core.voice); empty: no voice calls.
            "VOICE_SPOOL": _env("VOICE_SPOOL", str(instance / "voice")),
            # The gateway's age recipient: spooled calls are sealed to it (embedded: generated once).
            "VOICE_GATEWAY_RECIPIENT": _env("VOICE_GATEWAY_RECIPIENT"),
            "LOGIN_MAX_FAILURES": _int("LOGIN_MAX_FAILURES", 5),
            "LOGIN_LOCKOUT_MINUTES": _int("LOGIN_LOCKOUT_MINUTES", 15),
            "LOGIN_RATE_LIMIT": _env("LOGIN_RATE_LIMIT", "30 per minute"),
            "API_TOKEN_DAYS": _int("API_TOKEN_DAYS", 30),
            # Browser sessions (accounts.sessions): idle limits for staff/experts and for everyone else,
            # and an absolute lifetime; sign-in throttling per user name and address, and per address.
            "SESSION_IDLE_MINUTES_STAFF": _int("SESSION_IDLE_MINUTES_STAFF", 30),
            "SESSION_IDLE_MINUTES": _int("SESSION_IDLE_MINUTES", 120),
            "SESSION_MAX_HOURS": _int("SESSION_MAX_HOURS", 12),
            "LOGIN_ADDRESS_MAX_FAILURES": _int("LOGIN_ADDRESS_MAX_FAILURES", 30),
            # The centre's deposit account at its bank (保证金专户), where tenderers pay to a per-tender
            # virtual sub-account (prefix + the tender's number) and whose statements confirm deposits.
            "DEPOSIT_BANK": _env("DEPOSIT_BANK", cls.DEPOSIT_ACCOUNT_DEFAULTS.get("bank")),
            "DEPOSIT_ACCOUNT_NAME": _env("DEPOSIT_ACCOUNT_NAME", cls.DEPOSIT_ACCOUNT_DEFAULTS.get("name")),
            "DEPOSIT_ACCOUNT_NO": _env("DEPOSIT_ACCOUNT_NO", cls.DEPOSIT_ACCOUNT_DEFAULTS.get("number")),
            "DEPOSIT_SUBACCOUNT_PREFIX": _env(
                "DEPOSIT_SUBACCOUNT_PREFIX", cls.DEPOSIT_ACCOUNT_DEFAULTS.get("sub_prefix")
            ),
            "BABEL_DEFAULT_LOCALE": _env("DEFAULT_LOCALE", "zh_CN"),
            "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
            "BABEL_TRANSLATION_DIRECTORIES": str(ROOT / "translations"),
            # Larger bodies are refused before they are read; the bid part upload raises its own.
            "MAX_CONTENT_LENGTH": bodies.BODY_LIMIT,
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SESSION_COOKIE_NAME": "sunbid_session",
            "REMEMBER_COOKIE_HTTPONLY": True,
            "WTF_CSRF_TIME_LIMIT": None,  # bound to the session instead: forms left open stay usable
            "CELERY_EAGER": redis_url is None,
            # Embedded mode: the web process runs the beat schedule itself (core.scheduler); 0 turns it off.
            "EMBEDDED_BEAT": _env("EMBEDDED_BEAT", "1") != "0",
            "RATELIMIT_STORAGE_URI": redis_url or "memory://",
            "RATELIMIT_HEADERS_ENABLED": True,
        }
        return values


class DevelopmentConfig(Config):
    ENV = "development"
    # A made-up deposit account for the embedded demo; production names its own (SUNBID_DEPOSIT_*).
    DEPOSIT_ACCOUNT_DEFAULTS: ClassVar[dict[str, str]] = {
        "bank": "中国工商银行北京市分行营业部",
        "name": "阳光招采平台运营中心投标保证金专户",
        "number": "0200001209200012345",
        "sub_prefix": "9558820200",
    }


class ProductionConfig(Config):
    ENV = "production"

    @classmethod
    def from_env(cls) -> dict[str, Any]:
        values = super().from_env()
        values["SESSION_COOKIE_SECURE"] = True
        values["REMEMBER_COOKIE_SECURE"] = True
        values["PREFERRED_URL_SCHEME"] = "https"
        missing = [
            k
            for k in ("SECRET_KEY", "DATA_KEY", "AUDIT_SIGNER_KEY", "CA_PASSPHRASE", "REDIS_URL")
            if not values.get(k)
        ]
        if values["SANDBOX"]:
            raise RuntimeError("SUNBID_SANDBOX must not be set in production")
        if missing:
            raise RuntimeError("production mode needs " + ", ".join(f"SUNBID_{k}" for k in missing))
        return values


def load(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    cls = ProductionConfig if _env("ENV", "development") == "production" else DevelopmentConfig
    values = cls.from_env()
    if overrides:
        values.update(overrides)
    return values
