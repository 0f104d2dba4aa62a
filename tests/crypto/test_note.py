import base64

import pytest

from crypto.note import (
    BadSignatureError,
    Checkpoint,
    InvalidKeyError,
    MalformedNoteError,
    Signer,
    UnknownKeyError,
    Verifier,
    format_checkpoint,
    generate_signer,
    open_note,
    parse_checkpoint,
    parse_note,
    sign_note,
)

# The example keys and note of golang.org/x/mod/sumdb/note, the reference implementation of the format.
PETER_VERIFIER_KEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SIGNER_KEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
ENOCH_VERIFIER_KEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG_B64 = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="
ENOCH_SIG_B64 = "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ="
PETER_SIG = f"\u2014 PeterNeumann {PETER_SIG_B64}\n"
ENOCH_SIG = f"\u2014 EnochRoot {ENOCH_SIG_B64}\n"


def peter() -> Verifier:
    return Verifier.from_key_string(PETER_VERIFIER_KEY)


def enoch() -> Verifier:
    return Verifier.from_key_string(ENOCH_VERIFIER_KEY)


def note(*signature_lines: str, text: str = TEXT) -> bytes:
    return (text + "\n" + "".join(signature_lines)).encode()


def test_reference_keys_parse_and_print_back_unchanged():
    verifier = peter()
    signer = Signer.from_key_string(PETER_SIGNER_KEY)
    assert verifier.name == signer.name == "PeterNeumann"
    assert verifier.key_id.hex() == signer.key_id.hex() == "c74f20a3"
    assert verifier.key_string() == PETER_VERIFIER_KEY
    assert signer.key_string() == PETER_SIGNER_KEY
    assert signer.verifier() == verifier


def test_signing_the_reference_note_gives_the_reference_bytes():
    signer = Signer.from_key_string(PETER_SIGNER_KEY)
    assert sign_note(TEXT, signer) == note(PETER_SIG)


def test_the_reference_note_opens_with_its_key():
    assert open_note(note(PETER_SIG), [peter()]) == TEXT


def test_signatures_from_unknown_keys_are_ignored():
    both = note(PETER_SIG, ENOCH_SIG)
    assert open_note(both, [peter()]) == TEXT
    assert open_note(both, [enoch()]) == TEXT
    assert open_note(both, [peter(), enoch()]) == TEXT


def test_a_note_without_a_trusted_signature_is_refused():
    with pytest.raises(UnknownKeyError):
        open_note(note(PETER_SIG), [])
    with pytest.raises(UnknownKeyError):
        open_note(note(PETER_SIG), [enoch()])
    # Same name, other key: still unknown, as the spec requires.
    impostor = generate_signer("PeterNeumann")
    with pytest.raises(UnknownKeyError):
        open_note(sign_note(TEXT, impostor), [peter()])


def test_tampered_text_is_refused():
    tampered = note(PETER_SIG, text=TEXT.replace("answer", "answers"))
    with pytest.raises(BadSignatureError):
        open_note(tampered, [peter()])


def test_tampered_signature_is_refused():
    raw = bytearray(base64.b64decode(PETER_SIG_B64))
    raw[10] ^= 1  # in the Ed25519 signature, after the 4-byte key id
    line = f"\u2014 PeterNeumann {base64.b64encode(bytes(raw)).decode()}\n"
    with pytest.raises(BadSignatureError):
        open_note(note(line), [peter()])


def test_a_bad_signature_from_a_trusted_key_spoils_the_whole_note():
    forged_enoch = ENOCH_SIG.replace("rwz+eBzmZa0", "rwz+eBzmZa1")  # inside the signature, past the key id
    with pytest.raises(BadSignatureError):
        open_note(note(PETER_SIG, forged_enoch), [peter(), enoch()])
    # Untrusted, the same bad signature is simply not looked at.
    assert open_note(note(PETER_SIG, forged_enoch), [peter()]) == TEXT


def test_multiple_signers():
    log, witness = generate_signer("sunbid.example/audit"), generate_signer("witness.example/w1")
    signed = sign_note(TEXT, log, witness)
    assert [s.name for s in parse_note(signed).signatures] == ["sunbid.example/audit", "witness.example/w1"]
    assert open_note(signed, [log.verifier()]) == TEXT
    assert open_note(signed, [witness.verifier()]) == TEXT
    assert open_note(signed, [log.verifier(), witness.verifier()]) == TEXT


def test_generated_keys_round_trip_through_key_strings():
    signer = generate_signer("sunbid.example/audit")
    again = Signer.from_key_string(signer.key_string())
    verifier = Verifier.from_key_string(signer.verifier().key_string())
    assert again.key_string() == signer.key_string()
    assert open_note(sign_note(TEXT, again), [verifier]) == TEXT
    assert "PRIVATE" not in repr(signer)


@pytest.mark.parametrize(
    "malformed",
    [
        TEXT.encode(),
        (TEXT + "\n").encode(),
        note(PETER_SIG)[:-1],
        b"\x01" + note(PETER_SIG),
        b"\xff" + note(PETER_SIG),
        note(f"\u2014 Bad Name {PETER_SIG_B64}\n"),
        note(PETER_SIG, "Unexpected line.\n"),
        note(f"- PeterNeumann {PETER_SIG_B64}\n"),
        note("\u2014 PeterNeumann AAAA\n"),
        note("\u2014 PeterNeumann not*base64\n"),
        note(PETER_SIG * 101),
    ],
)
def test_malformed_notes_are_refused(malformed):
    with pytest.raises(MalformedNoteError):
        open_note(malformed, [peter()])


def test_the_text_may_contain_blank_lines():
    signer = generate_signer("sunbid.example/audit")
    text = "first paragraph\n\nsecond paragraph\n"
    assert open_note(sign_note(text, signer), [signer.verifier()]) == text


@pytest.mark.parametrize(
    "text",
    [
        "no final newline",
        "",
        "tab\there\n",
        "looks\n\n\u2014 like a signature\n",
        "\n\u2014 from the start\n",
    ],
)
def test_sign_note_refuses_text_it_cannot_sign_unambiguously(text):
    with pytest.raises(MalformedNoteError):
        sign_note(text, generate_signer("sunbid.example/audit"))


@pytest.mark.parametrize("name", ["", "has space", "has+plus", "tab\tname", "ideographic\u3000space"])
def test_key_names_without_spaces_or_plus(name):
    with pytest.raises(InvalidKeyError):
        generate_signer(name)


@pytest.mark.parametrize("key", [PETER_VERIFIER_KEY, PETER_SIGNER_KEY])
def test_mangled_key_strings_are_refused(key):
    parse = Signer.from_key_string if key.startswith("PRIVATE") else Verifier.from_key_string
    for start in range(len(key)):
        for end in range(start + 1, len(key) + 1):
            if (start, end) != (0, len(key)):
                with pytest.raises(InvalidKeyError):
                    parse(key[start:end])
    for i in range(len(key)):
        with pytest.raises(InvalidKeyError):
            parse(key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :])


def test_keys_of_the_wrong_length_or_algorithm_are_refused():
    with pytest.raises(InvalidKeyError):  # wrong key length, key id adjusted to match
        Verifier.from_key_string("PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==")
    with pytest.raises(InvalidKeyError):  # unknown algorithm, key id adjusted to match
        Verifier.from_key_string("PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_checkpoint_body_format():
    root = bytes(range(32))
    text = format_checkpoint("sunbid.example/audit", 1234, root)
    assert text == f"sunbid.example/audit\n1234\n{base64.b64encode(root).decode()}\n"
    assert parse_checkpoint(text) == Checkpoint("sunbid.example/audit", 1234, root, ())
    extended = format_checkpoint("sunbid.example/audit", 0, root, extra_lines=("timestamp 1700000000",))
    assert parse_checkpoint(extended).extra_lines == ("timestamp 1700000000",)


def test_the_spec_example_checkpoint_body_parses():
    checkpoint = parse_checkpoint(
        "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )
    assert checkpoint.origin == "example.com/behind-the-sofa"
    assert checkpoint.size == 20852163
    assert len(checkpoint.root) == 32


@pytest.mark.parametrize(
    "text",
    [
        "origin\n12\n",
        "origin\n012\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n-1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\ntwelve\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n18446744073709551616\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
        "origin\n12\nAAAA\n",
        "origin\n12\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "origin\n12\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n",
        "\n12\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
    ],
)
def test_malformed_checkpoints_are_refused(text):
    with pytest.raises(MalformedNoteError):
        parse_checkpoint(text)


def test_a_signed_checkpoint_round_trips():
    signer = generate_signer("sunbid.example/audit")
    root = bytes(32)
    signed = sign_note(format_checkpoint(signer.name, 42, root), signer)
    assert parse_checkpoint(open_note(signed, [signer.verifier()])) == Checkpoint(signer.name, 42, root)
