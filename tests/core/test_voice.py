"""The voice channel renders a call as spoken Mandarin for the telephony gateway (experts issue, calls)."""

import json
import shutil
import uuid

import pytest

from core.models import OutboxMessage
from core.voice import VoiceSpool

pytestmark = pytest.mark.skipif(
    shutil.which("espeak-ng") is None, reason="espeak-ng missing (Debian espeak-ng)"
)


def test_a_voice_message_becomes_a_wav_and_a_ticket_for_the_gateway(tmp_path):
    message = OutboxMessage(
        id=uuid.uuid4(),
        channel="voice",
        recipient="13800138000",
        subject="评标邀请",
        body="您被抽取参加评标，地点是第三评标室。",
    )
    VoiceSpool(tmp_path)({}, message)
    ticket = json.loads((tmp_path / f"{message.id}.json").read_text())
    audio = (tmp_path / ticket["audio"]).read_bytes()
    assert ticket["to"] == "13800138000" and audio[:4] == b"RIFF" and audio[8:12] == b"WAVE"
    assert len(audio) > 50_000  # seconds of speech, not an empty file
    longer = OutboxMessage(id=uuid.uuid4(), channel="voice", recipient="1", subject="", body=message.body * 3)
    VoiceSpool(tmp_path)({}, longer)
    assert (tmp_path / f"{longer.id}.wav").stat().st_size > len(
        audio
    ) * 2  # the words are spoken, all of them
    assert not list(tmp_path.glob("*.tmp"))
