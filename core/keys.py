"""Secrets for the embedded mode, and encryption of sensitive columns at rest.

In embedded mode a missing secret is generated once into the instance folder (mode 0600) so that
``make run`` needs no configuration; production passes every secret through the environment.
"""

from __future__ import annotations

import base64
import os
import secrets as _secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def instance_secret(instance_path: str, name: str, make: Callable[[], str]) -> str:
    path = Path(instance_path) / "keys" / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = make()
    # O_EXCL: two processes starting together must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
    return value


def random_key() -> str:
    return base64.b64encode(_secrets.token_bytes(32)).decode()


class ColumnCipher:
    """AES-256-GCM for small sensitive values (TOTP seeds, ID numbers), one derived key per purpose.

    The purpose is also the associated data, so a value copied from one column to another does not
    decrypt.
    """

    def __init__(self, data_key_b64: str) -> None:
        self._master = base64.b64decode(data_key_b64)
        if len(self._master) != 32:
            raise ValueError("SUNBID_DATA_KEY must be 32 bytes, base64")

    def _aead(self, purpose: str) -> AESGCM:
        key = HKDF(SHA256(), 32, salt=None, info=b"sunbid column " + purpose.encode()).derive(self._master)
        return AESGCM(key)

    def seal(self, purpose: str, plaintext: bytes) -> bytes:
        nonce = _secrets.token_bytes(12)
        return nonce + self._aead(purpose).encrypt(nonce, plaintext, purpose.encode())

    def open(self, purpose: str, sealed: bytes) -> bytes:
        return self._aead(purpose).decrypt(sealed[:12], sealed[12:], purpose.encode())
