"""crypto.opening: a tender's opening key shared 2-of-3 among agency, supervisor and notary."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import itertools
import shutil
import subprocess
from pathlib import Path

import pytest

from crypto import age, shamir
from crypto.canonical import canonical_json
from crypto.opening import (
    OpeningKey,
    OpeningKeyMismatchError,
    ShareMismatchError,
    create_opening_key,
    open_share,
    reconstruct,
    share_sha256,
    verify_released_share,
)

CUSTODIANS = ("agency", "supervisor", "notary")
BID = b"commercial part: total price 1234567 fen\n" * 100


@pytest.fixture(scope="module")
def custodians() -> dict[str, age.Identity]:
    return {name: age.generate_identity() for name in CUSTODIANS}


def make_key(custodians: dict[str, age.Identity], k: int = 2) -> OpeningKey:
    return create_opening_key([(name, identity.recipient) for name, identity in custodians.items()], k)


@pytest.fixture(scope="module")
def opening(custodians: dict[str, age.Identity]) -> OpeningKey:
    return make_key(custodians)


@pytest.fixture(scope="module")
def shares(opening: OpeningKey, custodians: dict[str, age.Identity]) -> dict[str, shamir.Share]:
    return {sealed.custodian: open_share(sealed, custodians[sealed.custodian]) for sealed in opening.shares}


def seal(data: bytes, recipients: list[age.Recipient]) -> bytes:
    out = io.BytesIO()
    age.encrypt(io.BytesIO(data), out, recipients)
    return out.getvalue()


def unseal(ciphertext: bytes, identity: age.Identity) -> bytes:
    out = io.BytesIO()
    age.decrypt(io.BytesIO(ciphertext), out, [identity])
    return out.getvalue()


@pytest.fixture
def age_cli() -> str:
    path = shutil.which("age")
    if path is None:
        pytest.skip("the `age` CLI is not installed (apt-get install age); interop untested")
    return path


# ------------------------------------------------------------------------------------------ creation


def test_opening_key_is_shared_among_named_custodians(opening: OpeningKey) -> None:
    assert opening.k == 2
    assert opening.n == 3
    assert [s.custodian for s in opening.shares] == list(CUSTODIANS)
    assert [s.x for s in opening.shares] == [1, 2, 3]
    assert len({s.share_sha256 for s in opening.shares}) == 3
    assert all(len(s.share_sha256) == 64 and int(s.share_sha256, 16) >= 0 for s in opening.shares)
    assert all(age.read_header(s.ciphertext).x25519_stanza_count == 1 for s in opening.shares)


def test_public_record_holds_nothing_secret(opening: OpeningKey, shares: dict[str, shamir.Share]) -> None:
    record = opening.public_record()
    assert record == {
        "recipient": str(opening.recipient),
        "k": 2,
        "n": 3,
        "shares": [{"custodian": s.custodian, "x": s.x, "sha256": s.share_sha256} for s in opening.shares],
    }
    published = canonical_json(record).decode()
    shown = published + repr(opening)
    assert "AGE-SECRET-KEY" not in shown
    for share in shares.values():
        assert share.encode() not in shown
        assert share.encode().rsplit(":", 1)[1] not in shown


def test_each_custodian_opens_only_its_own_share(
    opening: OpeningKey, custodians: dict[str, age.Identity]
) -> None:
    for sealed in opening.shares:
        share = open_share(sealed, custodians[sealed.custodian])
        assert share.x == sealed.x
        assert share.k == 2
        assert len(share.data) == 32
        for name, identity in custodians.items():
            if name != sealed.custodian:
                with pytest.raises(age.NoMatchingIdentityError) as caught:
                    open_share(sealed, identity)
                assert caught.value.code == "no_matching_identity"


def test_share_hashes_match_the_share_texts(opening: OpeningKey, shares: dict[str, shamir.Share]) -> None:
    for sealed in opening.shares:
        text = shares[sealed.custodian].encode()
        assert sealed.share_sha256 == hashlib.sha256(text.encode("ascii")).hexdigest()
        assert share_sha256(shares[sealed.custodian]) == sealed.share_sha256


def test_invalid_custodian_lists_refused(custodians: dict[str, age.Identity]) -> None:
    agency, supervisor, notary = (custodians[name].recipient for name in CUSTODIANS)
    with pytest.raises(ValueError, match="distinct"):
        create_opening_key([("agency", agency), ("agency", supervisor)], 2)
    with pytest.raises(ValueError, match="of their own"):
        create_opening_key([("agency", agency), ("supervisor", agency)], 2)
    with pytest.raises(ValueError, match="non-empty"):
        create_opening_key([("", agency), ("supervisor", supervisor)], 2)
    with pytest.raises(TypeError):
        create_opening_key([("agency", agency), ("supervisor", str(supervisor))], 2)  # type: ignore[list-item]
    for k in (1, 4, True):
        with pytest.raises(ValueError):
            create_opening_key([("agency", agency), ("supervisor", supervisor), ("notary", notary)], k)


# ------------------------------------------------------------------------------------ reconstruction


def test_any_two_custodians_reconstruct_the_published_key(
    opening: OpeningKey, shares: dict[str, shamir.Share]
) -> None:
    sealed_bid = seal(BID, [opening.recipient, age.generate_identity().recipient])
    subsets = [*itertools.permutations(shares.values(), 2), tuple(shares.values())]
    for subset in subsets:
        identity = reconstruct(list(subset), opening.recipient)
        assert identity.recipient == opening.recipient
        assert unseal(sealed_bid, identity) == BID


def test_r_b4_one_custodian_alone_cannot_open(opening: OpeningKey, shares: dict[str, shamir.Share]) -> None:
    """R-B4: no single custodian (nor the platform holding one released share) can decrypt a bid."""
    for share in shares.values():
        with pytest.raises(shamir.NotEnoughSharesError) as caught:
            reconstruct([share], opening.recipient)
        assert caught.value.code == "not_enough_shares"


def test_duplicate_share_refused(opening: OpeningKey, shares: dict[str, shamir.Share]) -> None:
    with pytest.raises(shamir.DuplicateShareError):
        reconstruct([shares["agency"], shares["agency"]], opening.recipient)


def test_share_of_another_tender_never_yields_a_wrong_key(
    opening: OpeningKey, shares: dict[str, shamir.Share], custodians: dict[str, age.Identity]
) -> None:
    other = make_key(custodians)
    foreign = {s.custodian: open_share(s, custodians[s.custodian]) for s in other.shares}
    for mine, theirs in itertools.product(shares.values(), foreign.values()):
        if mine.x == theirs.x:
            with pytest.raises(shamir.DuplicateShareError):
                reconstruct([mine, theirs], opening.recipient)
        else:
            # Exactly k shares: only the comparison with the published key can tell.
            with pytest.raises(OpeningKeyMismatchError) as caught:
                reconstruct([mine, theirs], opening.recipient)
            assert caught.value.code == "opening_key_mismatch"
    # More than k shares: the foreign one does not fit the others' polynomials.
    with pytest.raises(shamir.InconsistentSharesError):
        reconstruct([shares["agency"], shares["supervisor"], foreign["notary"]], opening.recipient)
    # The other tender's own shares open the other key, not this one.
    assert reconstruct([foreign["agency"], foreign["notary"]], other.recipient).recipient == other.recipient
    with pytest.raises(OpeningKeyMismatchError):
        reconstruct([foreign["agency"], foreign["notary"]], opening.recipient)


def test_shares_of_something_else_than_a_key_refused(opening: OpeningKey) -> None:
    with pytest.raises(OpeningKeyMismatchError):
        reconstruct(shamir.split(b"sixteen byte key", 2, 3)[:2], opening.recipient)


def test_three_of_three(custodians: dict[str, age.Identity]) -> None:
    opening = make_key(custodians, k=3)
    shares = [open_share(s, custodians[s.custodian]) for s in opening.shares]
    with pytest.raises(shamir.NotEnoughSharesError):
        reconstruct(shares[:2], opening.recipient)
    assert reconstruct(shares, opening.recipient).recipient == opening.recipient


# ------------------------------------------------------------------------------- released shares


def test_released_share_checked_against_published_digest(
    opening: OpeningKey, shares: dict[str, shamir.Share]
) -> None:
    sealed = opening.shares[1]
    text = shares[sealed.custodian].encode()
    assert verify_released_share(text, sealed.share_sha256) == shares[sealed.custodian]
    assert verify_released_share(text.encode(), sealed.share_sha256.upper()) == shares[sealed.custodian]
    for wrong in (text + "\n", shares["agency"].encode(), "sunbid-share-v1:2:2:AAAA", "共享"):
        with pytest.raises(ShareMismatchError) as caught:
            verify_released_share(wrong, sealed.share_sha256)
        assert caught.value.code == "share_mismatch"


def test_forged_or_mislabelled_sealed_share_refused(
    opening: OpeningKey, custodians: dict[str, age.Identity]
) -> None:
    sealed = opening.shares[0]
    identity = custodians[sealed.custodian]
    forged_text = shamir.Share(x=sealed.x, k=2, data=bytes(32)).encode().encode()
    forged = dataclasses.replace(sealed, ciphertext=seal(forged_text, [identity.recipient]))
    with pytest.raises(ShareMismatchError):
        open_share(forged, identity)
    with pytest.raises(ShareMismatchError):
        open_share(dataclasses.replace(sealed, x=2), identity)
    with pytest.raises(ShareMismatchError):
        open_share(dataclasses.replace(sealed, share_sha256=opening.shares[1].share_sha256), identity)
    tampered = bytearray(sealed.ciphertext)
    tampered[-1] ^= 1
    with pytest.raises(age.AgeError):
        open_share(dataclasses.replace(sealed, ciphertext=bytes(tampered)), identity)


# ------------------------------------------------------------------------------------- age CLI interop


def test_reconstructed_key_works_with_age_cli(
    opening: OpeningKey, shares: dict[str, shamir.Share], tmp_path: Path, age_cli: str
) -> None:
    identity = reconstruct([shares["supervisor"], shares["notary"]], opening.recipient)
    key_file = tmp_path / "opening-key.txt"
    key_file.write_text(f"# public key: {opening.recipient}\n{identity}\n")
    sealed_bid = tmp_path / "bid.age"
    sealed_bid.write_bytes(seal(BID, [opening.recipient, age.generate_identity().recipient]))
    result = subprocess.run(
        [age_cli, "-d", "-i", str(key_file), str(sealed_bid)], check=True, capture_output=True
    )
    assert result.stdout == BID
    # And the other way: sealed by the CLI to the published recipient, opened by the rebuilt key.
    cli_sealed = subprocess.run(
        [age_cli, "-r", str(opening.recipient)], input=BID, check=True, capture_output=True
    ).stdout
    assert unseal(cli_sealed, identity) == BID


def test_custodian_can_open_share_with_age_cli(
    opening: OpeningKey, custodians: dict[str, age.Identity], tmp_path: Path, age_cli: str
) -> None:
    """A custodian without SunBid software releases its share with plain ``age -d``."""
    sealed = opening.shares[2]
    key_file = tmp_path / "notary.txt"
    key_file.write_text(f"{custodians[sealed.custodian]}\n")
    share_file = tmp_path / "share.age"
    share_file.write_bytes(sealed.ciphertext)
    text = subprocess.run(
        [age_cli, "-d", "-i", str(key_file), str(share_file)], check=True, capture_output=True
    ).stdout
    share = verify_released_share(text, sealed.share_sha256)
    assert share == open_share(sealed, custodians[sealed.custodian])
