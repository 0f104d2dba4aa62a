"""Shamir secret sharing over GF(2^8), byte by byte, for the per-tender opening key.

Each byte of the secret is the constant term of its own random polynomial of degree ``k - 1`` over
GF(2^8) with the AES reduction polynomial x^8 + x^4 + x^3 + x + 1; share ``x`` holds the value of
every polynomial at ``x`` (1..255). Any ``k`` shares give the secret back by Lagrange interpolation
at 0; fewer than ``k`` are consistent with every possible secret, so they tell nothing about it.

Arithmetic
    All bytes of the secret are packed into one Python integer and processed lane-parallel with
    shifts, masks and XOR: no lookup tables and no branches on secret data. The only branches are on
    share indices and Lagrange coefficients, which are public. Python integers promise nothing more
    about timing than that; this is about not leaving obvious side channels, not a guarantee.

Text form
    ``sunbid-share-v1:<k>:<x>:<base64 data>``, decimal without leading zeros and canonical padded
    base64, so that one share has exactly one spelling and its SHA-256 can be published beforehand.

Nothing here logs, and ``repr()`` of a :class:`Share` leaves its data out.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import ClassVar

__all__ = [
    "DuplicateShareError",
    "InconsistentSharesError",
    "MalformedShareError",
    "NotEnoughSharesError",
    "ShamirError",
    "Share",
    "combine",
    "split",
]

MAX_SHARES = 255
PREFIX = "sunbid-share-v1"
_TEXT = re.compile(r"sunbid-share-v1:([1-9][0-9]{0,2}):([1-9][0-9]{0,2}):([A-Za-z0-9+/]*={0,2})")
_REDUCE = 0x1B  # x^8 = x^4 + x^3 + x + 1 in GF(2^8)


# --------------------------------------------------------------------------------------------- errors


class ShamirError(ValueError):
    """Base of the refusals of :func:`combine` and :meth:`Share.decode`.

    ``code`` is stable for the application to translate; messages never contain share data.
    """

    code: ClassVar[str] = "shamir_error"


class NotEnoughSharesError(ShamirError):
    code = "not_enough_shares"


class DuplicateShareError(ShamirError):
    code = "duplicate_share"


class InconsistentSharesError(ShamirError):
    """Shares with different thresholds or lengths, or more than ``k`` that do not lie on one polynomial."""

    code = "inconsistent_shares"


class MalformedShareError(ShamirError):
    code = "malformed_share"


# ----------------------------------------------------------------------------------------- arithmetic


def _lanes(length: int) -> tuple[int, int]:
    """Masks with 0x01 and 0x7F in every byte lane."""
    ones = int.from_bytes(b"\x01" * length, "big")
    return ones, ones * 0x7F


def _mul_public(packed: int, c: int, ones: int, low7: int) -> int:
    """Every byte lane of ``packed`` times the public field element ``c``."""
    result = 0
    for bit in range(8):
        if (c >> bit) & 1:
            result ^= packed
        high = (packed >> 7) & ones
        # high holds 0 or 1 per lane, so the product stays inside each lane (0x1B < 0x100).
        packed = ((packed & low7) << 1) ^ (high * _REDUCE)
    return result


def _gf_mul(a: int, b: int) -> int:
    return _mul_public(a, b, 1, 0x7F)


def _gf_inv(a: int) -> int:
    if not 0 < a < 256:
        raise ZeroDivisionError("0 has no inverse in GF(2^8)")
    # a^254 = a^-1, because the multiplicative group has order 255.
    result, base, exponent = 1, a, 254
    while exponent:
        if exponent & 1:
            result = _gf_mul(result, base)
        base = _gf_mul(base, base)
        exponent >>= 1
    return result


def _lagrange(xs: list[int], at: int) -> list[int]:
    """Coefficients c_i with f(at) = sum c_i * f(x_i) for every f of degree < len(xs).

    Subtraction is XOR in characteristic 2.
    """
    coefficients = []
    for i, xi in enumerate(xs):
        numerator, denominator = 1, 1
        for j, xj in enumerate(xs):
            if j != i:
                numerator = _gf_mul(numerator, at ^ xj)
                denominator = _gf_mul(denominator, xi ^ xj)
        coefficients.append(_gf_mul(numerator, _gf_inv(denominator)))
    return coefficients


def _interpolate(points: list[Share], at: int, ones: int, low7: int) -> int:
    value = 0
    for coefficient, share in zip(_lagrange([s.x for s in points], at), points, strict=True):
        value ^= _mul_public(int.from_bytes(share.data, "big"), coefficient, ones, low7)
    return value


# --------------------------------------------------------------------------------------------- shares


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Share:
    """One share: the point ``x`` (1..255), the threshold ``k`` it belongs to, and the values."""

    x: int
    k: int
    data: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not _is_int(self.x) or not 1 <= self.x <= MAX_SHARES:
            raise MalformedShareError(f"a share index is an integer from 1 to {MAX_SHARES}")
        if not _is_int(self.k) or not 2 <= self.k <= MAX_SHARES:
            raise MalformedShareError(f"a share threshold is an integer from 2 to {MAX_SHARES}")
        if not isinstance(self.data, bytes | bytearray | memoryview):
            raise MalformedShareError("share data must be bytes")
        object.__setattr__(self, "data", bytes(self.data))

    def encode(self) -> str:
        return f"{PREFIX}:{self.k}:{self.x}:{base64.b64encode(self.data).decode('ascii')}"

    @classmethod
    def decode(cls, text: str) -> Share:
        """Parse the exact text form; surrounding whitespace is refused, not stripped."""
        if not isinstance(text, str):
            raise MalformedShareError("a share is given as text")
        match = _TEXT.fullmatch(text)
        if match is None:
            raise MalformedShareError(f"not a share (expected '{PREFIX}:<k>:<x>:<base64>')")
        k, x, encoded = match.groups()
        try:
            data = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedShareError("share data is not valid base64") from None
        # Otherwise one share would have several spellings and several SHA-256 values.
        if base64.b64encode(data).decode("ascii") != encoded:
            raise MalformedShareError("share data is not canonical base64")
        return cls(x=int(x), k=int(k), data=data)


def split(secret: bytes, k: int, n: int) -> list[Share]:
    """Split ``secret`` into ``n`` shares (x = 1..n), any ``k`` of which recover it."""
    if not isinstance(secret, bytes | bytearray | memoryview):
        raise TypeError("the secret must be bytes")
    if not _is_int(k) or not _is_int(n):
        raise TypeError("k and n must be integers")
    if not 2 <= k <= n <= MAX_SHARES:
        raise ValueError(f"need 2 <= k <= n <= {MAX_SHARES}, got k={k}, n={n}")
    secret = bytes(secret)
    length = len(secret)
    ones, low7 = _lanes(length)
    # Uniform coefficients, a zero leading one included: forcing it non-zero would skew the
    # distribution of the shares and break the "fewer than k tell nothing" property.
    coefficients = [int.from_bytes(secret, "big")]
    coefficients += [int.from_bytes(secrets.token_bytes(length), "big") for _ in range(k - 1)]
    shares = []
    for x in range(1, n + 1):
        value = 0
        for coefficient in reversed(coefficients):
            value = _mul_public(value, x, ones, low7) ^ coefficient
        shares.append(Share(x=x, k=k, data=value.to_bytes(length, "big")))
    return shares


def combine(shares: Iterable[Share]) -> bytes:
    """The secret from at least ``k`` distinct shares of one split.

    Shares beyond the first ``k`` are not needed, but they are checked to lie on the same
    polynomials: a corrupted or foreign share then fails loudly instead of yielding a wrong secret.
    With exactly ``k`` shares no such check is possible; callers compare the result with something
    published (as :mod:`crypto.opening` does with the public key).
    """
    shares = list(shares)
    if not all(isinstance(share, Share) for share in shares):
        raise MalformedShareError("combine takes Share objects (use Share.decode)")
    if not shares:
        raise NotEnoughSharesError("no shares given")
    k, length = shares[0].k, len(shares[0].data)
    if any(share.k != k for share in shares):
        raise InconsistentSharesError("the shares come from splits with different thresholds")
    if any(len(share.data) != length for share in shares):
        raise InconsistentSharesError("the shares have different lengths")
    seen: set[int] = set()
    for share in shares:
        if share.x in seen:
            raise DuplicateShareError(f"share {share.x} is given more than once")
        seen.add(share.x)
    if len(shares) < k:
        raise NotEnoughSharesError(f"{len(shares)} share(s) given, {k} needed")
    ones, low7 = _lanes(length)
    basis = shares[:k]
    for extra in shares[k:]:
        if _interpolate(basis, extra.x, ones, low7) != int.from_bytes(extra.data, "big"):
            raise InconsistentSharesError("the shares do not all belong to the same split")
    return _interpolate(basis, 0, ones, low7).to_bytes(length, "big")
