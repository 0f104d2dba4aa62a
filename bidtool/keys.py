"""The signing key at rest: PKCS#8 encrypted with PBES2 (PBKDF2-HMAC-SHA256, AES-256-CBC).

``cryptography``'s ``BestAvailableEncryption`` writes exactly this structure for PKCS#8, but with
OpenSSL's default of 2048 PBKDF2 iterations, and it offers no way to choose more for PKCS#8. A
stolen ``signing-key.pem`` is then only as strong as the passphrase against a fast offline guesser,
and the key signs bids. So the structure is written here, with 600,000 iterations (the current
OWASP figure for PBKDF2-HMAC-SHA256): about a quarter of a second per seal, a few hundred times
the work per guess. The output is plain RFC 5958 / RFC 8018, which ``cryptography``, ``openssl
pkey`` and every other PKCS#8 reader load unchanged.
"""

from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

__all__ = ["PBKDF2_ITERATIONS", "encrypt_private_key_pem"]

PBKDF2_ITERATIONS = 600_000

# DER encodings of the object identifiers (RFC 8018 appendix A and C, NIST CSOR).
_OID_PBES2 = bytes.fromhex("06092a864886f70d01050d")  # 1.2.840.113549.1.5.13
_OID_PBKDF2 = bytes.fromhex("06092a864886f70d01050c")  # 1.2.840.113549.1.5.12
_OID_HMAC_SHA256 = bytes.fromhex("06082a864886f70d0209")  # 1.2.840.113549.2.9
_OID_AES256_CBC = bytes.fromhex("060960864801650304012a")  # 2.16.840.1.101.3.4.1.42
_NULL = b"\x05\x00"


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    if size < 0x80:
        length = bytes([size])
    else:
        raw = size.to_bytes((size.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(raw)]) + raw
    return bytes([tag]) + length + content


def _sequence(*items: bytes) -> bytes:
    return _der(0x30, b"".join(items))


def _integer(value: int) -> bytes:
    return _der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def _octets(value: bytes) -> bytes:
    return _der(0x04, value)


def encrypt_private_key_pem(
    key: ec.EllipticCurvePrivateKey, passphrase: bytes, *, iterations: int = PBKDF2_ITERATIONS
) -> bytes:
    """``-----BEGIN ENCRYPTED PRIVATE KEY-----`` PEM of ``key`` under ``passphrase``."""
    if not passphrase:
        raise ValueError("a passphrase is required")
    plain = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    salt = os.urandom(16)
    iv = os.urandom(16)
    secret = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(passphrase)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(secret), modes.CBC(iv)).encryptor()
    encrypted = encryptor.update(padded) + encryptor.finalize()
    pbkdf2 = _sequence(
        _OID_PBKDF2, _sequence(_octets(salt), _integer(iterations), _sequence(_OID_HMAC_SHA256, _NULL))
    )
    scheme = _sequence(_OID_AES256_CBC, _octets(iv))
    info = _sequence(_sequence(_OID_PBES2, _sequence(pbkdf2, scheme)), _octets(encrypted))
    text = base64.encodebytes(info).decode("ascii").replace("\n", "")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return (
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
        + "\n".join(lines)
        + "\n-----END ENCRYPTED PRIVATE KEY-----\n"
    ).encode("ascii")
