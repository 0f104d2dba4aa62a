"""The voice channel renders a call as spoken Mandarin for the telephony gateway (experts issue, calls),
sealed to the gateway: nothing in the spool names the expert or the evaluation in clear (R-E4)."""

import io
import json
import shutil
import stat
import uuid

import pytest

from core.models import OutboxMessage
from core.voice import VoiceSpool
from crypto import age

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng missing (Debian espeak-ng)"
)


def _open(path, identity) -> bytes:
    out = io.BytesIO()
    age.decrypt(io.BytesIO(path.read_bytes()), out, [identity])
    return out.getvalue()


def test_a_voice_message_becomes_a_sealed_wav_and_ticket_for_the_gateway(tmp_path):
    gateway = age.generate_identity()
    spool = tmp_path / "voice"
    message = OutboxMessage(
        id=uuid.uuid4(),
        channel="voice",
        recipient="13800138000",
        subject="评标邀请",
        body="您被抽取参加评标，地点是第三评标室。",
    )
    VoiceSpool(spool, gateway.recipient)({}, message)
    ticket_file = spool / f"{message.id}.json.age"
    ticket = json.loads(_open(ticket_file, gateway))
    audio = _open(spool / ticket["audio"], gateway)
    assert ticket["to"] == "13800138000" and audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
    assert len(audio) > 50_000  # seconds of speech, not an empty file
    # Nothing readable in the spool: no phone number, no clear audio; owner-only files and folder.
    for path in spool.iterdir():
        assert b"13800138000" not in path.read_bytes() and b"RIFF" not in path.read_bytes()[:64]
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(spool.stat().st_mode) == 0o700
    with pytest.raises(age.AgeError):
        _open(ticket_file, age.generate_identity())  # only the gateway opens it
    longer = OutboxMessage(id=uuid.uuid4(), channel="voice", recipient="1", subject="", body=message.body * 3)
    VoiceSpool(spool, gateway.recipient)({}, longer)
    assert len(_open(spool / f"{longer.id}.wav.age", gateway)) > len(audio) * 2  # all the words are spoken
    assert not list(spool.glob("*.tmp")) and not list(spool.glob(".render-*"))
