"""crypto.age: the age v1 envelope for sealed bids, checked against the `age` CLI both ways."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto import age
from crypto.age import (
    AgeError,
    BadKeyEncodingError,
    Identity,
    Recipient,
    Stanza,
    decrypt,
    decrypt_file,
    decrypt_with_file_key,
    encrypt,
    encrypt_file,
    generate_identity,
    parse_identities,
    read_header,
    unwrap_file_key,
)

KIB64 = 64 * 1024
ENC_CHUNK = KIB64 + 16
SIZES = [0, 1, 65535, 65536, 65537, 3 * 65536, 1024 * 1024 + 123]

# From the age specification (C2SP age, "The X25519 recipient type").
SPEC_IDENTITY = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"
SPEC_RECIPIENT = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"


# ------------------------------------------------------------------------------------------- helpers


@pytest.fixture
def age_cli() -> str:
    path = shutil.which("age")
    if path is None or shutil.which("age-keygen") is None:
        pytest.skip(
            "the `age` and `age-keygen` CLIs are not installed (apt-get install age); interop untested"
        )
    return path


def keygen(directory: Path, name: str = "keygen.txt") -> tuple[Identity, str, Path]:
    """An identity made by age-keygen, with the public key it printed in its comment."""
    path = directory / name
    subprocess.run(["age-keygen", "-o", str(path)], check=True, capture_output=True)
    text = path.read_text()
    public = next(
        line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("# public key:")
    )
    (identity,) = parse_identities(text)
    return identity, public, path


def identity_file(directory: Path, identity: Identity, name: str = "ours.txt") -> Path:
    path = directory / name
    path.write_text(f"# public key: {identity.recipient}\n{identity}\n")
    return path


def seal(data: bytes, recipients: list[Recipient], **kwargs: object) -> bytes:
    out = io.BytesIO()
    result = encrypt(io.BytesIO(data), out, recipients, **kwargs)
    assert result.ciphertext_size == len(out.getvalue())
    assert result.plaintext_size == len(data)
    return out.getvalue()


def unseal(ciphertext: bytes, identities: list[Identity], **kwargs: object) -> bytes:
    out = io.BytesIO()
    result = decrypt(io.BytesIO(ciphertext), out, identities, **kwargs)
    assert result.plaintext_size == len(out.getvalue())
    return out.getvalue()


def code_of(ciphertext: bytes, identities: list[Identity]) -> str:
    with pytest.raises(AgeError) as info:
        unseal(ciphertext, identities)
    return info.value.code


def hkdf(ikm: bytes, salt: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(ikm)


def rebuild_header(stanzas: list[Stanza], file_key: bytes) -> bytes:
    """A header with a correct MAC, computed here independently of the module."""
    mac_input = b"age-encryption.org/v1\n" + b"".join(s.encode() for s in stanzas) + b"---"
    mac = hmac.HMAC(hkdf(file_key, b"", b"header"), hashes.SHA256())
    mac.update(mac_input)
    return mac_input + b" " + age._b64encode(mac.finalize()) + b"\n"


def stream_payload(file_key: bytes, nonce: bytes, chunks: list[tuple[bytes, bool]]) -> bytes:
    """A payload built chunk by chunk, so that tests can make ones the module would never write."""
    aead = ChaCha20Poly1305(hkdf(file_key, nonce, b"payload"))
    out = [nonce]
    for counter, (plain, last) in enumerate(chunks):
        out.append(aead.encrypt(counter.to_bytes(11, "big") + bytes([last]), plain, None))
    return b"".join(out)


@pytest.fixture(scope="module")
def ident() -> Identity:
    return generate_identity()


# ------------------------------------------------------------------------------------------ keys


def test_spec_known_answer() -> None:
    identity = Identity.parse(SPEC_IDENTITY)
    assert identity.private_bytes == b"\x42" * 32
    assert str(identity.recipient) == SPEC_RECIPIENT
    assert str(identity) == SPEC_IDENTITY
    assert Recipient.parse(SPEC_RECIPIENT) == identity.recipient


def test_key_round_trips() -> None:
    identity = generate_identity()
    text = str(identity)
    assert text.startswith("AGE-SECRET-KEY-1") and text == text.upper()
    assert Identity.parse(text) == identity
    assert Identity.from_private_bytes(identity.private_bytes) == identity
    recipient = identity.recipient
    assert str(recipient).startswith("age1") and str(recipient) == str(recipient).lower()
    assert Recipient.parse(str(recipient)) == recipient
    assert Recipient.from_public_bytes(recipient.public_bytes) == recipient
    assert len(identity.private_bytes) == len(recipient.public_bytes) == 32
    assert text not in repr(identity)


def _bech32m(hrp: str, data: bytes) -> str:
    words = age._regroup(data, 8, 5, pad=True)
    polymod = age._bech32_polymod([*age._bech32_hrp_values(hrp), *words, 0, 0, 0, 0, 0, 0]) ^ 0x2BC830A3
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(age._BECH32_CHARSET[w] for w in words + checksum)


def _flip_char(text: str, index: int) -> str:
    alphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
    if text.isupper():
        alphabet = alphabet.upper()
    replacement = alphabet[(alphabet.index(text[index]) + 1) % 32]
    return text[:index] + replacement + text[index + 1 :]


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (Identity.parse, SPEC_IDENTITY.lower()),  # identities are uppercase
        (Recipient.parse, SPEC_RECIPIENT.upper()),  # recipients are lowercase
        (Identity.parse, SPEC_IDENTITY[:20] + SPEC_IDENTITY[20:].lower()),  # mixed case
        (Identity.parse, _flip_char(SPEC_IDENTITY, 30)),  # checksum
        (Recipient.parse, _flip_char(SPEC_RECIPIENT, 10)),
        (Recipient.parse, _flip_char(SPEC_RECIPIENT, len(SPEC_RECIPIENT) - 1)),
        (Identity.parse, SPEC_RECIPIENT),  # wrong kind of key
        (Recipient.parse, SPEC_IDENTITY),
        (Recipient.parse, _bech32m("age", b"\x42" * 32)),  # Bech32m is not Bech32
        (Recipient.parse, age._bech32_encode("age", b"\x42" * 31)),  # wrong length
        (Recipient.parse, age._bech32_encode("age", b"\x42" * 33)),
        (Recipient.parse, age._bech32_encode("agex", b"\x42" * 32)),
        (Recipient.parse, " " + SPEC_RECIPIENT),
        (Recipient.parse, SPEC_RECIPIENT.replace("q", "b", 1)),  # 'b' is not in the alphabet
        (Recipient.parse, "age1"),
        (Recipient.parse, ""),
    ],
)
def test_bad_key_encodings(parse, text: str) -> None:
    with pytest.raises(BadKeyEncodingError) as info:
        parse(text)
    assert info.value.code == "bad_key_encoding"
    assert isinstance(info.value, ValueError)
    assert SPEC_IDENTITY[16:40] not in str(info.value)


def test_non_canonical_bech32_padding_is_rejected() -> None:
    # 32 bytes are 256 bits in 52 five-bit words: the last word carries 4 padding bits that must be 0.
    words = age._regroup(b"\x42" * 32, 8, 5, pad=True)
    words[-1] |= 1
    polymod = age._bech32_polymod([*age._bech32_hrp_values("age"), *words, 0, 0, 0, 0, 0, 0]) ^ 1
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    text = "age1" + "".join(age._BECH32_CHARSET[w] for w in words + checksum)
    with pytest.raises(BadKeyEncodingError, match="padding"):
        Recipient.parse(text)


def test_low_order_recipient_is_refused() -> None:
    with pytest.raises(BadKeyEncodingError):
        seal(b"x", [Recipient(bytes(32))])


def test_age_keygen_known_answer(age_cli: str, tmp_path: Path) -> None:
    identity, public, _ = keygen(tmp_path)
    assert str(identity.recipient) == public
    assert Recipient.parse(public) == identity.recipient
    assert str(Identity.parse(str(identity))) == str(identity)


# --------------------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("size", SIZES)
def test_round_trip(size: int, ident: Identity) -> None:
    data = os.urandom(size)
    ciphertext = seal(data, [ident.recipient])
    expected_chunks = max(1, -(-size // KIB64))
    header = read_header(ciphertext)
    assert len(ciphertext) == header.size + 16 + size + 16 * expected_chunks
    assert unseal(ciphertext, [ident]) == data
    assert unseal(ciphertext, [ident], workers=0) == data
    assert unseal(ciphertext, [ident], workers=1) == data


@pytest.mark.parametrize("size", SIZES)
def test_ours_decrypts_with_age_cli(size: int, age_cli: str, tmp_path: Path) -> None:
    identity = generate_identity()
    data = os.urandom(size)
    (tmp_path / "bid.age").write_bytes(seal(data, [identity.recipient]))
    result = subprocess.run(
        [age_cli, "-d", "-i", str(identity_file(tmp_path, identity)), str(tmp_path / "bid.age")],
        capture_output=True,
        check=True,
    )
    assert result.stdout == data


@pytest.mark.parametrize("size", SIZES)
def test_age_cli_decrypts_with_ours(size: int, age_cli: str, tmp_path: Path) -> None:
    identity, public, _ = keygen(tmp_path)
    data = os.urandom(size)
    ciphertext = subprocess.run(
        [age_cli, "-e", "-r", public], input=data, capture_output=True, check=True
    ).stdout
    assert unseal(ciphertext, [identity]) == data
    # Same framing on both sides: our ciphertext has exactly the age CLI's length.
    assert len(seal(data, [identity.recipient])) == len(ciphertext)


def test_multiple_recipients_with_age_cli(age_cli: str, tmp_path: Path) -> None:
    theirs, public, theirs_path = keygen(tmp_path)
    mine, other = generate_identity(), generate_identity()
    mine_path = identity_file(tmp_path, mine)
    data = os.urandom(3 * KIB64 + 5)

    ciphertext = seal(data, [other.recipient, Recipient.parse(public), mine.recipient])
    assert read_header(ciphertext).x25519_stanza_count == 3
    (tmp_path / "bid.age").write_bytes(ciphertext)
    for path in (theirs_path, mine_path):
        result = subprocess.run(
            [age_cli, "-d", "-i", str(path), str(tmp_path / "bid.age")], capture_output=True, check=True
        )
        assert result.stdout == data
    for identities in ([theirs], [mine], [other], [generate_identity(), mine]):
        assert unseal(ciphertext, identities) == data

    ciphertext = subprocess.run(
        [age_cli, "-e", "-r", public, "-r", str(mine.recipient)], input=data, capture_output=True, check=True
    ).stdout
    assert read_header(ciphertext).x25519_stanza_count == 2
    assert unseal(ciphertext, [mine]) == data
    assert unseal(ciphertext, [generate_identity(), theirs]) == data
    assert code_of(ciphertext, [other]) == "no_matching_identity"


def _greased(ident: Identity) -> tuple[bytes, bytes]:
    """A file whose header mixes unknown stanza types around ours, with a correct MAC."""
    data = os.urandom(1000)
    out = io.BytesIO()
    result = encrypt(io.BytesIO(data), out, [ident.recipient], expose_file_key=True)
    assert result.file_key is not None
    header = read_header(out.getvalue())
    stanzas = [
        Stanza("example.com/grease", ("x", "+/=!"), os.urandom(48)),  # 48 bytes: full line + empty line
        Stanza("scrypt-ish", (), b""),
        *header.stanzas,
        Stanza("X25519-not", ("abc",), os.urandom(100)),
    ]
    return rebuild_header(stanzas, result.file_key) + out.getvalue()[header.size :], data


def test_unknown_stanzas_are_skipped(ident: Identity) -> None:
    ciphertext, data = _greased(ident)
    parsed = read_header(ciphertext)
    assert [s.type for s in parsed.stanzas] == ["example.com/grease", "scrypt-ish", "X25519", "X25519-not"]
    assert parsed.x25519_stanza_count == 1
    assert unseal(ciphertext, [ident]) == data


def test_unknown_stanzas_are_skipped_by_age_cli_too(age_cli: str, tmp_path: Path, ident: Identity) -> None:
    ciphertext, data = _greased(ident)
    (tmp_path / "id.txt").write_text(str(ident) + "\n")
    cli = subprocess.run(
        [age_cli, "-d", "-i", str(tmp_path / "id.txt")], input=ciphertext, capture_output=True, check=True
    )
    assert cli.stdout == data


# ---------------------------------------------------------------------------------- online decryption


def test_online_decryption_round_trip(ident: Identity) -> None:
    data = os.urandom(2 * KIB64 + 3)
    out = io.BytesIO()
    result = encrypt(io.BytesIO(data), out, [ident.recipient])
    assert result.file_key is None
    ciphertext = out.getvalue()
    assert ciphertext.startswith(result.header_bytes)

    file_key = unwrap_file_key(result.header_bytes, [ident])
    assert len(file_key) == 16
    assert unwrap_file_key(io.BytesIO(ciphertext), [ident]) == file_key
    assert unwrap_file_key(read_header(ciphertext), [ident]) == file_key

    plain = io.BytesIO()
    decrypt_with_file_key(io.BytesIO(ciphertext), plain, file_key)
    assert plain.getvalue() == data

    exposed = encrypt(io.BytesIO(b"x"), io.BytesIO(), [ident.recipient], expose_file_key=True)
    assert exposed.file_key == unwrap_file_key(exposed.header_bytes, [ident])
    assert exposed.file_key.hex() not in repr(exposed)


def test_online_decryption_of_age_cli_file(age_cli: str, tmp_path: Path) -> None:
    identity, public, _ = keygen(tmp_path)
    data = os.urandom(KIB64 + 1)
    ciphertext = subprocess.run(
        [age_cli, "-e", "-r", public], input=data, capture_output=True, check=True
    ).stdout
    file_key = unwrap_file_key(io.BytesIO(ciphertext), [identity])
    (tmp_path / "bid.age").write_bytes(ciphertext)
    decrypt_file(tmp_path / "bid.age", tmp_path / "bid.tar", file_key=file_key)
    assert (tmp_path / "bid.tar").read_bytes() == data


def test_wrong_file_key_is_refused_before_any_output(ident: Identity) -> None:
    ciphertext = seal(os.urandom(500), [ident.recipient])
    plain = io.BytesIO()
    with pytest.raises(AgeError) as info:
        decrypt_with_file_key(io.BytesIO(ciphertext), plain, os.urandom(16))
    assert info.value.code == "header_mac_mismatch"
    assert plain.getvalue() == b""
    with pytest.raises(ValueError):
        decrypt_with_file_key(io.BytesIO(ciphertext), plain, b"short")


# ------------------------------------------------------------------------------------------- streaming


class Trickle(io.RawIOBase):
    """A source that returns short reads, like a pipe or a socket."""

    def __init__(self, data: bytes, step: int) -> None:
        self._data = memoryview(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = min(len(buffer), self._step, len(self._data))
        buffer[:n] = self._data[:n]
        self._data = self._data[n:]
        return n


class Dribble(io.RawIOBase):
    """A sink that accepts partial writes."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, buffer) -> int:
        n = min(len(buffer), 10_000)
        self.data += bytes(buffer[:n])
        return n


@pytest.mark.parametrize("workers", [1, 3])
def test_short_reads_and_partial_writes(workers: int, ident: Identity) -> None:
    data = os.urandom(40 * KIB64 + 17)  # more than two I/O blocks
    sink = Dribble()
    encrypt(Trickle(data, 33_333), sink, [ident.recipient], workers=workers)
    plain = Dribble()
    decrypt(io.BufferedReader(Trickle(bytes(sink.data), 7_777)), plain, [ident], workers=workers)
    assert bytes(plain.data) == data


def test_progress_reports_plaintext_bytes(ident: Identity) -> None:
    data = os.urandom(40 * KIB64 + 17)
    seen: list[int] = []
    ciphertext = seal(data, [ident.recipient], progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == len(data)
    seen.clear()
    unseal(ciphertext, [ident], progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == len(data)


class Failing(io.RawIOBase):
    """A stream that breaks after ``after`` bytes, as a full disk or a vanished source does."""

    def __init__(self, after: int, data: bytes = b"") -> None:
        self.after = after
        self.data = data
        self.pos = 0

    def readable(self) -> bool:
        return bool(self.data)

    def writable(self) -> bool:
        return not self.data

    def readinto(self, buffer) -> int:
        if self.pos >= self.after:
            raise OSError("source went away")
        n = min(len(buffer), self.after - self.pos, len(self.data) - self.pos)
        buffer[:n] = self.data[self.pos : self.pos + n]
        self.pos += n
        return n

    def write(self, buffer) -> int:
        if self.pos + len(buffer) > self.after:
            raise OSError("no space left on device")
        self.pos += len(buffer)
        return len(buffer)


def test_stream_errors_on_any_thread_reach_the_caller(ident: Identity) -> None:
    data = os.urandom(12 * age.BLOCK_CHUNKS * KIB64)  # more blocks than are ever in flight
    with pytest.raises(OSError, match="source went away"):
        encrypt(Failing(5 * age.BLOCK_CHUNKS * KIB64 + 1, data), io.BytesIO(), [ident.recipient], workers=2)
    with pytest.raises(OSError, match="no space left"):
        encrypt(io.BytesIO(data), Failing(3 * age.BLOCK_CHUNKS * KIB64), [ident.recipient], workers=2)
    ciphertext = seal(data, [ident.recipient])
    with pytest.raises(OSError, match="no space left"):
        decrypt(io.BytesIO(ciphertext), Failing(3 * age.BLOCK_CHUNKS * KIB64), [ident], workers=2)


def test_decryption_writes_nothing_past_a_bad_chunk(ident: Identity) -> None:
    data = os.urandom(12 * age.BLOCK_CHUNKS * KIB64)
    ciphertext = bytearray(seal(data, [ident.recipient]))
    payload = read_header(bytes(ciphertext)).size + 16
    bad = 2 * age.BLOCK_CHUNKS + 3  # a chunk in the third block; later blocks authenticate fine
    ciphertext[payload + bad * ENC_CHUNK + 7] ^= 1
    out = io.BytesIO()
    with pytest.raises(AgeError) as info:
        decrypt(io.BytesIO(bytes(ciphertext)), out, [ident], workers=2)
    assert info.value.code == "payload_corrupted"
    # Whole blocks before the bad one at most, in order, and nothing of the blocks after it.
    assert len(out.getvalue()) <= 2 * age.BLOCK_CHUNKS * KIB64
    assert out.getvalue() == data[: len(out.getvalue())]


def test_read_header_leaves_stream_at_payload(ident: Identity) -> None:
    ciphertext = seal(b"hello", [ident.recipient, generate_identity().recipient])
    src = io.BytesIO(ciphertext)
    header = read_header(src)
    assert src.tell() == header.size
    assert header.raw == ciphertext[: header.size]
    assert header.mac_input.endswith(b"\n---")
    assert header.x25519_stanza_count == 2
    assert all(s.type == "X25519" and len(s.body) == 32 for s in header.stanzas)


def test_file_helpers(tmp_path: Path, ident: Identity) -> None:
    data = os.urandom(3 * KIB64)
    (tmp_path / "bid.tar").write_bytes(data)
    result = encrypt_file(tmp_path / "bid.tar", tmp_path / "bid.age", [ident.recipient])
    assert result.ciphertext_size == (tmp_path / "bid.age").stat().st_size
    decrypt_file(tmp_path / "bid.age", tmp_path / "out.tar", [ident])
    assert (tmp_path / "out.tar").read_bytes() == data
    assert (tmp_path / "out.tar").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bid.age", "bid.tar", "out.tar"]
    with pytest.raises(ValueError):
        decrypt_file(tmp_path / "bid.age", tmp_path / "x", [ident], file_key=bytes(16))


# ------------------------------------------------------------------------------------ tampered files


def _layout(ident: Identity, size: int) -> tuple[bytes, int]:
    ciphertext = seal(os.urandom(size), [ident.recipient])
    return ciphertext, read_header(ciphertext).size


def _cases(ident: Identity) -> list[tuple[str, bytes, str]]:
    """(name, file, expected code) for every way of spoiling a file that tests below look at."""
    four, h4 = _layout(ident, 3 * KIB64 + 100)  # three full chunks and a short final one
    p4 = h4 + 16
    full, hf = _layout(ident, KIB64)  # a single, full final chunk
    pf = hf + 16
    two, h2 = _layout(ident, 2 * KIB64)
    p2 = h2 + 16
    small, _ = _layout(ident, 100)
    empty, _ = _layout(ident, 0)

    def flip(data: bytes, offset: int, bit: int = 0) -> bytes:
        return data[:offset] + bytes([data[offset] ^ (1 << bit)]) + data[offset + 1 :]

    chunk = [four[p4 + i * ENC_CHUNK : p4 + (i + 1) * ENC_CHUNK] for i in range(4)]
    header = read_header(four)
    mac_text = age._b64encode(header.mac)
    other_mac = age._b64encode(bytes([header.mac[0] ^ 1]) + header.mac[1:])
    share_text = header.stanzas[0].args[0].encode()
    body_text = age._b64encode(header.stanzas[0].body)
    other_body = age._b64encode(bytes([header.stanzas[0].body[0] ^ 0x80]) + header.stanzas[0].body[1:])
    # 43 characters carry 258 bits for 256: the last character's two low bits must be zero, and the
    # next character of the alphabet sets one of them.
    alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    loose_share = share_text[:-1] + bytes([alphabet[alphabet.index(share_text[-1]) + 1]])
    # Sixteen chunks fill one I/O block exactly: cuts and additions at the block edge.
    block, _ = _layout(ident, age.BLOCK_CHUNKS * KIB64)
    longer, hl = _layout(ident, (age.BLOCK_CHUNKS + 1) * KIB64 + 5)

    return [
        # truncation
        ("cut in version line", four[:5], "malformed_header"),
        ("cut in MAC line", four[: header.size - 10], "malformed_header"),
        ("header only", four[:h4], "payload_truncated"),
        ("cut in nonce", four[: h4 + 8], "payload_truncated"),
        ("nonce only", four[:p4], "payload_truncated"),
        ("after chunk 1", four[: p4 + ENC_CHUNK], "payload_truncated"),
        ("after chunk 3", four[: p4 + 3 * ENC_CHUNK], "payload_truncated"),
        ("cut at the block edge", longer[: hl + 16 + age.BLOCK_CHUNKS * ENC_CHUNK], "payload_truncated"),
        (
            "cut just past the block edge",
            longer[: hl + 16 + age.BLOCK_CHUNKS * ENC_CHUNK + 3],
            "payload_truncated",
        ),
        ("cut in tag of chunk 2", four[: p4 + ENC_CHUNK + 10], "payload_truncated"),
        ("cut inside chunk 1", four[: p4 + 100], "payload_corrupted"),
        ("last byte missing", four[:-1], "payload_corrupted"),
        ("full final chunk cut", full[:-1], "payload_corrupted"),
        # flipped bits
        ("flip in nonce", flip(four, h4 + 3), "payload_corrupted"),
        ("flip in chunk 0", flip(four, p4 + 5, 7), "payload_corrupted"),
        ("flip in chunk 2", flip(four, p4 + 2 * ENC_CHUNK + 500), "payload_corrupted"),
        ("flip in final tag", flip(four, len(four) - 1), "payload_corrupted"),
        ("flip in full final chunk", flip(full, pf + 10), "payload_corrupted"),
        ("flip in MAC", four.replace(mac_text, other_mac), "header_mac_mismatch"),
        ("flip in wrapped key", four.replace(body_text, other_body), "no_matching_identity"),
        ("flip in version", flip(four, 20, 1), "unsupported_version"),
        # reordering and splicing
        (
            "chunks 0 and 1 swapped",
            four[:p4] + chunk[1] + chunk[0] + b"".join(chunk[2:]),
            "payload_corrupted",
        ),
        ("chunk 1 dropped", four[:p4] + chunk[0] + b"".join(chunk[2:]), "payload_corrupted"),
        ("chunk 1 repeated", four[:p4] + chunk[0] + chunk[1] + b"".join(chunk[1:]), "payload_corrupted"),
        # trailing data
        ("byte after full final chunk", full + b"\x00", "trailing_data"),
        ("20 bytes after full final chunk", full + os.urandom(20), "trailing_data"),
        ("final chunk repeated", two + two[p2 + ENC_CHUNK :], "trailing_data"),
        ("another file appended", full + full, "trailing_data"),
        ("bytes after a block-sized payload", block + b"12345", "trailing_data"),
        ("chunk after a block-sized payload", block + block[-ENC_CHUNK:], "trailing_data"),
        ("garbage after short final chunk", small + b"garbage", "payload_corrupted"),
        ("garbage after empty payload", empty + b"garbage!" * 10, "payload_corrupted"),
        # header encoding
        ("non-canonical share", four.replace(share_text, loose_share), "malformed_header"),
        ("padded share", four.replace(share_text, share_text + b"="), "malformed_header"),
        ("padded MAC", four.replace(mac_text, mac_text + b"="), "malformed_header"),
        ("CRLF", four[:h4].replace(b"\n", b"\r\n") + four[h4:], "malformed_header"),
    ]


def test_tampering_raises_the_right_code(ident: Identity) -> None:
    failures = []
    for name, data, expected in _cases(ident):
        with pytest.raises(AgeError) as info:
            unseal(data, [ident])
        if info.value.code != expected:
            failures.append(f"{name}: {info.value.code} ({info.value}) instead of {expected}")
    assert not failures, "\n".join(failures)


def test_failed_decrypt_file_leaves_nothing(tmp_path: Path, ident: Identity) -> None:
    for index, (name, data, expected) in enumerate(_cases(ident)):
        src = tmp_path / f"case{index}.age"
        src.write_bytes(data)
        with pytest.raises(AgeError) as info:
            decrypt_file(src, tmp_path / "bid.tar", [ident])
        assert info.value.code == expected, name
        src.unlink()
        assert list(tmp_path.iterdir()) == [], name
    # A file already at the destination survives a failed decryption untouched.
    (tmp_path / "bid.tar").write_bytes(b"previous")
    (tmp_path / "bad.age").write_bytes(
        next(data for name, data, _ in _cases(ident) if name == "last byte missing")
    )
    with pytest.raises(AgeError):
        decrypt_file(tmp_path / "bad.age", tmp_path / "bid.tar", [ident])
    assert (tmp_path / "bid.tar").read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.age", "bid.tar"]


def test_failed_online_decrypt_file_leaves_nothing(tmp_path: Path, ident: Identity) -> None:
    out = io.BytesIO()
    result = encrypt(io.BytesIO(os.urandom(3 * KIB64)), out, [ident.recipient], expose_file_key=True)
    (tmp_path / "bid.age").write_bytes(out.getvalue()[:-5])
    with pytest.raises(age.PayloadCorruptedError):
        decrypt_file(tmp_path / "bid.age", tmp_path / "bid.tar", file_key=result.file_key)
    with pytest.raises(age.HeaderMacMismatchError):
        decrypt_file(tmp_path / "bid.age", tmp_path / "bid.tar", file_key=os.urandom(16))
    assert [p.name for p in tmp_path.iterdir()] == ["bid.age"]


def test_wrong_identity(tmp_path: Path, ident: Identity) -> None:
    (tmp_path / "bid.age").write_bytes(seal(b"secret bid", [ident.recipient]))
    with pytest.raises(age.NoMatchingIdentityError) as info:
        decrypt_file(tmp_path / "bid.age", tmp_path / "bid.tar", [generate_identity(), generate_identity()])
    assert info.value.code == "no_matching_identity"
    assert [p.name for p in tmp_path.iterdir()] == ["bid.age"]


def test_every_single_bit_flip_is_caught(ident: Identity) -> None:
    ciphertext = seal(b"bid", [ident.recipient])
    header_size = read_header(ciphertext).size
    header_codes = {"malformed_header", "unsupported_version", "no_matching_identity", "header_mac_mismatch"}
    for offset in range(len(ciphertext)):
        for bit in range(8):
            spoiled = bytearray(ciphertext)
            spoiled[offset] ^= 1 << bit
            code = code_of(bytes(spoiled), [ident])
            allowed = header_codes if offset < header_size else {"payload_corrupted"}
            assert code in allowed, (offset, bit, code)


def _empty_final_chunk(ident: Identity) -> tuple[bytes, bytes, bytes]:
    """A full final chunk (valid), and the same data as a full chunk plus an empty final one (invalid)."""
    out = io.BytesIO()
    result = encrypt(io.BytesIO(b""), out, [ident.recipient], expose_file_key=True)
    assert result.file_key is not None
    data = os.urandom(KIB64)
    nonce = os.urandom(16)
    header = rebuild_header(list(read_header(out.getvalue()).stanzas), result.file_key)
    good = header + stream_payload(result.file_key, nonce, [(data, True)])
    bad = header + stream_payload(result.file_key, nonce, [(data, False), (b"", True)])
    return good, bad, data


def test_empty_final_chunk_after_data_is_rejected(ident: Identity) -> None:
    good, bad, data = _empty_final_chunk(ident)
    assert unseal(good, [ident]) == data
    assert code_of(bad, [ident]) == "payload_corrupted"


def test_empty_final_chunk_is_rejected_by_age_cli_too(age_cli: str, tmp_path: Path, ident: Identity) -> None:
    good, bad, data = _empty_final_chunk(ident)
    (tmp_path / "id.txt").write_text(str(ident) + "\n")
    identity = ["-d", "-i", str(tmp_path / "id.txt")]
    assert subprocess.run([age_cli, *identity], input=good, capture_output=True, check=True).stdout == data
    assert subprocess.run([age_cli, *identity], input=bad, capture_output=True).returncode != 0


# ------------------------------------------------------------------------------------ header grammar


def _with_header(header: bytes) -> bytes:
    return header + bytes(16) + bytes(32)


SHARE = age._b64encode(b"\x09" * 32).decode()
BODY = age._b64encode(bytes(32)).decode()
MAC = age._b64encode(bytes(32)).decode()


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (f"age-encryption.org/v2\n-> X25519 {SHARE}\n{BODY}\n--- {MAC}\n", "unsupported_version"),
        (f"age-encryption.org/v1.0\n-> X25519 {SHARE}\n{BODY}\n--- {MAC}\n", "unsupported_version"),
        ("-----BEGIN AGE ENCRYPTED FILE-----\n", "malformed_header"),
        ("not an age file at all\n", "malformed_header"),
        ("", "malformed_header"),
        (f"age-encryption.org/v1\n--- {MAC}\n", "malformed_header"),  # no stanza
        (f"age-encryption.org/v1\n-> X25519 {SHARE}\n{BODY}\n", "malformed_header"),  # no MAC
        (f"age-encryption.org/v1\n-> X25519 {SHARE}\n{BODY}\n---{MAC}\n", "malformed_header"),
        (f"age-encryption.org/v1\n-> X25519 {SHARE}\n{BODY}\n---  {MAC}\n", "malformed_header"),
        (f"age-encryption.org/v1\n-> X25519 {SHARE}\n{BODY}\n--- {MAC} \n", "malformed_header"),
        (f"age-encryption.org/v1\n-> X25519 {SHARE}\n{BODY}\n--- {MAC[:-1]}\n", "malformed_header"),
        (f"age-encryption.org/v1\n-> X25519 {SHARE}\n{BODY}\n--- {MAC}", "malformed_header"),
        (f"age-encryption.org/v1\n-> X25519  {SHARE}\n{BODY}\n--- {MAC}\n", "malformed_header"),
        (f"age-encryption.org/v1\n-> X25519 {SHARE} \n{BODY}\n--- {MAC}\n", "malformed_header"),
        (f"age-encryption.org/v1\n->\n{BODY}\n--- {MAC}\n", "malformed_header"),
        (f"age-encryption.org/v1\n-> \n{BODY}\n--- {MAC}\n", "malformed_header"),
        (f"age-encryption.org/v1\n-> X25519 {SHARE} extra\n{BODY}\n--- {MAC}\n", "malformed_header"),
        (f"age-encryption.org/v1\n-> X25519\n{BODY}\n--- {MAC}\n", "malformed_header"),
        (f"age-encryption.org/v1\n-> X25519 {SHARE[:-2]}\n{BODY}\n--- {MAC}\n", "malformed_header"),
        (f"age-encryption.org/v1\n-> X25519 {SHARE}\n{BODY[:-3]}\n--- {MAC}\n", "malformed_header"),
        (f"age-encryption.org/v1\n-> X25519 {SHARE}\n{BODY}=\n--- {MAC}\n", "malformed_header"),
        (f"age-encryption.org/v1\n-> X25519 {SHARE}\n{BODY}\n\n--- {MAC}\n", "malformed_header"),
        # A 64-column body line must be followed by more body, here an empty final line is missing.
        (f"age-encryption.org/v1\n-> other\n{'A' * 64}\n--- {MAC}\n", "malformed_header"),
        (f"age-encryption.org/v1\n-> other\n{'A' * 65}\n\n--- {MAC}\n", "malformed_header"),
        (f"age-encryption.org/v1\n-> other\n{'A' * 60}\n{'A' * 4}\n--- {MAC}\n", "malformed_header"),
        (f"age-encryption.org/v1\n-> other\n{'A' * 64}\n\n-> X\n\n--- {MAC}\n", "no_matching_identity"),
        (f"age-encryption.org/v1\n-> other\né\n--- {MAC}\n", "malformed_header"),
        (f"age-encryption.org/v1\n-> othér\n\n--- {MAC}\n", "malformed_header"),
        (
            f"age-encryption.org/v1\n-> X25519 {SHARE}\n{BODY}\n-> other\n{'A' * 20000}\n--- {MAC}\n",
            "malformed_header",
        ),
        # The all-zero ephemeral share is a low-order point: abort, do not skip.
        (
            f"age-encryption.org/v1\n-> X25519 {age._b64encode(bytes(32)).decode()}\n{BODY}\n--- {MAC}\n",
            "malformed_header",
        ),
        # Well formed, not for us: every X25519 stanza is tried and none fits.
        (
            f"age-encryption.org/v1\n-> X25519 {SHARE}\n{BODY}\n-> X25519 {SHARE}\n{BODY}\n--- {MAC}\n",
            "no_matching_identity",
        ),
    ],
)
def test_header_grammar(header: str, code: str, ident: Identity) -> None:
    assert code_of(_with_header(header.encode()), [ident]) == code


def test_header_size_is_bounded(ident: Identity) -> None:
    stanza = "-> other\n" + ("A" * 64 + "\n") * 200 + "\n"
    header = "age-encryption.org/v1\n" + stanza * 100 + f"--- {MAC}\n"
    with pytest.raises(age.MalformedHeaderError, match="too long"):
        read_header(header.encode())


def test_error_codes_are_distinct() -> None:
    classes = [
        age.MalformedHeaderError,
        age.UnsupportedVersionError,
        age.NoMatchingIdentityError,
        age.HeaderMacMismatchError,
        age.PayloadTruncatedError,
        age.PayloadCorruptedError,
        age.TrailingDataError,
        age.BadKeyEncodingError,
    ]
    assert [c.code for c in classes] == [
        "malformed_header",
        "unsupported_version",
        "no_matching_identity",
        "header_mac_mismatch",
        "payload_truncated",
        "payload_corrupted",
        "trailing_data",
        "bad_key_encoding",
    ]
    assert all(issubclass(c, AgeError) for c in classes)
    assert all(c().message for c in classes)
