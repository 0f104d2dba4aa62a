"""The voice channel: a call's message spoken in Mandarin as an audio file for a telephony gateway.

The platform does not dial: it renders the message with espeak-ng (Debian ``espeak-ng``, voice
``cmn``) into a WAV file in the voice spool, with a JSON ticket beside it naming the number to call;
the trading centre's gateway picks the tickets up, plays the file and deletes both. Rendering happens
when the outbox delivers the message, so a rolled-back change never rings anybody.

A call names an expert's phone and the time and place of an evaluation (R-E4): like the outbox, the
spool keeps nothing in clear. The ticket and the audio are sealed (age) to the gateway's recipient
(``SUNBID_VOICE_GATEWAY_RECIPIENT``; in embedded mode one generated into ``instance/keys``), written
0600 in a 0700 folder, as ``<id>.json.age`` and ``<id>.wav.age``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from core.keys import instance_secret
from core.models import OutboxMessage
from core.notifications import ChannelError
from crypto import age

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
    """Provider for the ``voice`` channel: writes ``<id>.wav.age`` and ``<id>.json.age`` into ``folder``,
    both sealed to the gateway's age ``recipient``."""

    def __init__(self, folder: str | os.PathLike[str], recipient: age.Recipient) -> None:
        self.folder = Path(folder)
        self.recipient = recipient

    def __call__(self, config: dict[str, Any], message: OutboxMessage) -> None:
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.folder.chmod(0o700)
        with tempfile.TemporaryDirectory(dir=self.folder, prefix=".render-") as scratch:
            audio = Path(scratch) / "call.wav"
            render(message.body, audio)
            data = audio.read_bytes()
        ticket = {
            "to": message.recipient,
            "audio": f"{message.id}.wav.age",
            "sha256": hashlib.sha256(data).hexdigest(),
            "repeat": 2,  # say it twice: people reach for a pen on the first
        }
        # The audio first: a ticket never points at a file that is not there yet.
        self._seal(data, self.folder / f"{message.id}.wav.age")
        self._seal(json.dumps(ticket, ensure_ascii=False).encode(), self.folder / f"{message.id}.json.age")

    def _seal(self, plaintext: bytes, out: Path) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".tmp")  # mkstemp: mode 0600
        try:
            with os.fdopen(fd, "wb") as sink:
                age.encrypt(io.BytesIO(plaintext), sink, [self.recipient])
            os.replace(tmp, out)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def gateway_recipient(config: dict[str, Any]) -> age.Recipient:
    """The telephony gateway's age recipient: configured, or (embedded mode) generated once."""
    configured = config.get("VOICE_GATEWAY_RECIPIENT")
    if configured:
        return age.Recipient.parse(configured)
    identity = age.Identity.parse(
        instance_secret(
            config["INSTANCE_PATH"], "voice_gateway_identity", lambda: str(age.generate_identity())
        )
    )
    return identity.recipient
