"""The per-tender opening key: an age X25519 identity that exists whole only at birth and at the opening.

At publication :func:`create_opening_key` generates the identity in memory, splits its 32-byte
scalar k-of-n with :mod:`crypto.shamir` among named custodians (agency, supervisor, optionally a
notary), seals each share's text to its custodian's age recipient and lets the identity go. What it
returns is public or sealed: the recipient every bid is encrypted to, and per custodian the sealed
share plus the SHA-256 of the share text, which goes to the audit log so that a share released at
the opening can be checked against what was published (R-B4: before the deadline no party holds
enough to decrypt a bid alone).

After the deadline each custodian opens its own share (:func:`open_share`, or ``age -d`` by hand)
and releases the share text; the server checks it (:func:`verify_released_share`) and, with ``k``
of them, :func:`reconstruct` rebuilds the identity and refuses it unless its recipient is the
published one.

Callers must never log, store or audit anything secret: not a :class:`~crypto.shamir.Share`, not a
share's text, not the reconstructed identity. Logging the objects themselves is safe by accident
only (their ``repr`` hides the secrets); their ``str``/``encode`` forms are the secrets. Python cannot
wipe memory, so "discarded" means that no reference is kept and nothing is written anywhere.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any, ClassVar

from crypto import age, shamir

__all__ = [
    "OpeningError",
    "OpeningKey",
    "OpeningKeyMismatchError",
    "SealedShare",
    "ShareMismatchError",
    "create_opening_key",
    "open_share",
    "reconstruct",
    "share_sha256",
    "verify_released_share",
]

_KEY_SIZE = 32
# A sealed share is a few hundred bytes; the cap only stops a hostile blob from filling memory.
_MAX_SEALED = 64 * 1024


class OpeningError(ValueError):
    """Base of the refusals of this module; ``code`` is stable, messages carry no secrets."""

    code: ClassVar[str] = "opening_error"


class OpeningKeyMismatchError(OpeningError):
    """The shares combine to a key other than the published one (e.g. a share of another tender)."""

    code = "opening_key_mismatch"


class ShareMismatchError(OpeningError):
    """A share is not the one whose SHA-256 was published for that custodian."""

    code = "share_mismatch"


@dataclass(frozen=True)
class SealedShare:
    """One custodian's share, sealed to their age recipient, with the digest published in the audit log."""

    custodian: str
    x: int
    ciphertext: bytes = field(repr=False)
    share_sha256: str


@dataclass(frozen=True)
class OpeningKey:
    """What survives :func:`create_opening_key`: nothing here can decrypt a bid."""

    recipient: age.Recipient
    k: int
    shares: list[SealedShare]

    @property
    def n(self) -> int:
        return len(self.shares)

    def public_record(self) -> dict[str, Any]:
        """The facts for the audit log (canonical-JSON ready): recipient, threshold, share digests."""
        return {
            "recipient": str(self.recipient),
            "k": self.k,
            "n": self.n,
            "shares": [{"custodian": s.custodian, "x": s.x, "sha256": s.share_sha256} for s in self.shares],
        }


def share_sha256(share: shamir.Share) -> str:
    """Hex SHA-256 of the share's text form, the value published for it."""
    return hashlib.sha256(share.encode().encode("ascii")).hexdigest()


def _seal(text: bytes, recipient: age.Recipient) -> bytes:
    out = BytesIO()
    age.encrypt(BytesIO(text), out, [recipient])
    return out.getvalue()


def create_opening_key(custodians: Sequence[tuple[str, age.Recipient]], k: int) -> OpeningKey:
    """Generate a tender's opening key and share it ``k``-of-``len(custodians)``.

    Custodian names must be distinct and non-empty, and so must their recipients: one holder of two
    shares would need fewer partners than the threshold says.
    """
    custodians = list(custodians)
    names = [name for name, _ in custodians]
    recipients = [recipient for _, recipient in custodians]
    if not all(isinstance(name, str) and name.strip() == name and name for name in names):
        raise ValueError("custodian names must be non-empty strings without surrounding spaces")
    if len(set(names)) != len(names):
        raise ValueError("custodian names must be distinct")
    if not all(isinstance(r, age.Recipient) for r in recipients):
        raise TypeError("custodian recipients must be age.Recipient objects (use Recipient.parse)")
    if len(set(recipients)) != len(recipients):
        raise ValueError("each custodian needs an age recipient of their own")
    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= len(custodians):
        raise ValueError(f"need 2 <= k <= number of custodians ({len(custodians)}), got k={k!r}")

    identity = age.generate_identity()
    recipient = identity.recipient
    shares = shamir.split(identity.private_bytes, k, len(custodians))
    # Combining all n shares checks every one of them against the others (see shamir.combine), so a
    # fault here is caught now rather than at an opening that could then never happen.
    reconstruct(shares, recipient)
    del identity

    sealed = [
        SealedShare(
            custodian=name,
            x=share.x,
            ciphertext=_seal(share.encode().encode("ascii"), custodian_recipient),
            share_sha256=share_sha256(share),
        )
        for (name, custodian_recipient), share in zip(custodians, shares, strict=True)
    ]
    del shares
    return OpeningKey(recipient=recipient, k=k, shares=sealed)


def verify_released_share(text: str | bytes, expected_sha256: str) -> shamir.Share:
    """The share in ``text`` if it hashes to the published ``expected_sha256``.

    Checked before parsing, so anything other than the published share text, whatever it is, is
    refused with :class:`ShareMismatchError`.
    """
    if isinstance(text, str):
        try:
            raw = text.encode("ascii")
        except UnicodeEncodeError:
            raise ShareMismatchError("the released share does not match the published digest") from None
    else:
        raw = bytes(text)
    actual = hashlib.sha256(raw).hexdigest()
    if not hmac.compare_digest(actual, str(expected_sha256).lower()):
        raise ShareMismatchError("the released share does not match the published digest")
    return shamir.Share.decode(raw.decode("ascii"))


def open_share(sealed: SealedShare, identity: age.Identity) -> shamir.Share:
    """Custodian side: decrypt one's sealed share and check it against the published digest.

    A wrong identity raises :class:`crypto.age.NoMatchingIdentityError`; a tampered ciphertext
    another :class:`crypto.age.AgeError`.
    """
    if len(sealed.ciphertext) > _MAX_SEALED:
        raise ShareMismatchError("the sealed share is too long to be a share")
    out = BytesIO()
    age.decrypt(BytesIO(sealed.ciphertext), out, [identity])
    share = verify_released_share(out.getvalue(), sealed.share_sha256)
    if share.x != sealed.x:
        raise ShareMismatchError(f"the sealed share is share {share.x}, not share {sealed.x}")
    return share


def reconstruct(shares: Iterable[shamir.Share], expected: age.Recipient) -> age.Identity:
    """The opening identity from at least ``k`` shares, refused unless it matches ``expected``.

    Raises the :mod:`crypto.shamir` errors for too few, duplicate or inconsistent shares, and
    :class:`OpeningKeyMismatchError` when they combine to any other key: with exactly ``k`` shares
    a foreign one cannot be told apart until the public key is compared.
    """
    if not isinstance(expected, age.Recipient):
        raise TypeError("expected must be the published age.Recipient")
    secret = shamir.combine(shares)
    if len(secret) != _KEY_SIZE:
        raise OpeningKeyMismatchError("the shares do not hold an X25519 key")
    identity = age.Identity.from_private_bytes(secret)
    if identity.recipient != expected:
        raise OpeningKeyMismatchError("the shares combine to a key other than the published opening key")
    return identity
