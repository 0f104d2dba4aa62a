"""The voice channel: a call's message spoken in Mandarin as an audio file for a telephony gateway.

The platform does not dial: it renders the message with espeak-ng (Debian ``espeak-ng``, voice
``cmn``) into a WAV file in the voice spool, with a JSON ticket beside it naming the number to call;
the trading centre's gateway picks the tickets up, plays the file and deletes both. Rendering happens
when the outbox delivers the message, so a rolled-back change never rings anybody.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from core.models import OutboxMessage
from core.notifications import ChannelError

VOICE = "cmn"
WORDS_PER_MINUTE = "150"  # slower than the default: a phone line and a date and place to note down


def espeak() -> str | None:
    return shutil.which("espeak-ng")


def render(text: str, out: Path) -> None:
    """Speak ``text`` into the WAV file ``out`` (written whole, then renamed into place)."""
    program = espeak()
    if program is None:
        raise ChannelError("espeak-ng is not installed (Debian package espeak-ng)")
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".wav.tmp")
    os.close(fd)
    try:
        # The text goes on stdin, never the command line: nothing in it can become an option.
        subprocess.run(  # noqa: S603 - a fixed argv; the text goes on stdin
            [program, "-v", VOICE, "-s", WORDS_PER_MINUTE, "-w", tmp, "--stdin"],
            input=text.encode(),
            check=True,
            capture_output=True,
            timeout=60,
        )
        os.replace(tmp, out)
    except (subprocess.SubprocessError, OSError) as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ChannelError(f"espeak-ng failed: {exc}") from exc


class VoiceSpool:
    """Provider for the ``voice`` channel: writes ``<id>.wav`` and ``<id>.json`` into ``folder``."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    def __call__(self, config: dict, message: OutboxMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        audio = self.folder / f"{message.id}.wav"
        render(message.body, audio)
        ticket = {
            "to": message.recipient,
            "audio": audio.name,
            "sha256": hashlib.sha256(audio.read_bytes()).hexdigest(),
            "repeat": 2,  # say it twice: people reach for a pen on the first
        }
        tmp = self.folder / f"{message.id}.json.tmp"
        tmp.write_text(json.dumps(ticket, ensure_ascii=False))
        os.replace(tmp, self.folder / f"{message.id}.json")
