"""机器码 (machine fingerprint): one SHA-256 over identifiers that stay put on the preparing machine.

Why only a hash
    Tenderers who collude (围标串标) often prepare several bids on one computer. Each bid part's
    manifest carries ``machine_fingerprint_sha256``, and the platform flags bids of different
    tenderers whose hashes are equal (rule R-B8). Equality is all the platform needs, so the
    identifiers themselves (MAC addresses, machine-id, host name, CPU model) never leave the machine:
    the platform learns "same machine as that other bid" and nothing about the hardware.

    The hash is not a secret-keyed one, because every client must compute the same value for the
    same machine. On Linux the machine-id alone carries 128 random bits, which makes guessing the
    inputs from the hash hopeless; on other systems the inputs (a MAC address and a host name) have
    far less entropy, and a determined platform operator could confirm a guess. That is accepted: the
    fingerprint is evidence for a human review, not a credential.

What goes in (Linux)
    * ``machine-id``: /etc/machine-id, else /var/lib/dbus/machine-id (written once at install);
    * ``mac``: the address of every interface in /sys/class/net that has a ``device`` link (a real
      NIC; bridges, veth pairs, tunnels and the loopback have none, and they come and go with
      containers and VPNs), all-zero addresses excluded, sorted;
    * ``cpu``: the first "model name" (x86) or "Hardware"/"Processor"/"cpu model" line of /proc/cpuinfo;
    * ``host``: the host name.

    Elsewhere ``uuid.getnode()`` stands in for the MAC addresses (unless it had to invent a random
    one, which it marks with the multicast bit) and ``platform.node()`` for the host name, with
    ``platform.machine()`` and ``platform.processor()`` for the CPU.

Encoding
    ``SHA-256("sunbid-machine-fingerprint-v1\\n" + lines)`` where each identifier is one line
    ``kind=value\\n`` in UTF-8, lines sorted. The fixed first line keeps the value from colliding with
    any other hash of the same text. Missing identifiers are simply absent; a machine with none of
    them at all still gets a (useless but stable) value, since refusing to seal would be worse.
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import socket
import uuid

__all__ = ["DOMAIN", "fingerprint_sha256", "identifiers"]

DOMAIN = b"sunbid-machine-fingerprint-v1\n"

_CPU_KEYS = ("model name", "hardware", "processor", "cpu model")
_MAC = re.compile(r"[0-9a-f]{2}(:[0-9a-f]{2}){5,19}")


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _machine_id(root: str) -> str | None:
    for rel in ("etc/machine-id", "var/lib/dbus/machine-id"):
        text = _read_text(os.path.join(root, rel))
        if text and text.strip():
            return text.strip().lower()
    return None


def _macs(root: str) -> list[str]:
    net = os.path.join(root, "sys/class/net")
    try:
        names = os.listdir(net)
    except OSError:
        return []
    found = set()
    for name in names:
        if name == "lo" or not os.path.exists(os.path.join(net, name, "device")):
            continue
        text = (_read_text(os.path.join(net, name, "address")) or "").strip().lower()
        if _MAC.fullmatch(text) and any(part != "00" for part in text.split(":")):
            found.add(text)
    return sorted(found)


def _cpu_model(root: str) -> str | None:
    text = _read_text(os.path.join(root, "proc/cpuinfo"))
    if not text:
        return None
    # On ARM the "processor" key is a number per core in some kernels and the model in others;
    # the preference order picks the most descriptive key present, its first value.
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        key = key.strip().lower()
        value = value.strip()
        if sep and key in _CPU_KEYS and value and key not in values and not value.isdigit():
            values[key] = value
    for key in _CPU_KEYS:
        if key in values:
            return " ".join(values[key].split())
    return None


def identifiers(*, root: str | None = None, hostname: str | None = None) -> list[tuple[str, str]]:
    """The (kind, value) pairs that go into the hash, sorted; shown to a curious user, never sent.

    ``root`` reads the Linux files below another directory (tests); ``hostname`` overrides the host
    name. Without ``root``, non-Linux systems use the portable fallbacks described above.
    """
    pairs: list[tuple[str, str]] = []
    host = hostname if hostname is not None else (socket.gethostname() or platform.node())
    if root is not None or platform.system() == "Linux":
        base = root if root is not None else "/"
        machine_id = _machine_id(base)
        if machine_id:
            pairs.append(("machine-id", machine_id))
        pairs.extend(("mac", mac) for mac in _macs(base))
        cpu = _cpu_model(base)
        if cpu:
            pairs.append(("cpu", cpu))
    else:
        node = uuid.getnode()
        if not (node >> 40) & 1:  # a random stand-in has the multicast bit set
            pairs.append(("mac", ":".join(f"{(node >> s) & 0xFF:02x}" for s in range(40, -1, -8))))
        cpu = " ".join(filter(None, (platform.machine(), platform.processor())))
        if cpu:
            pairs.append(("cpu", cpu))
    if host:
        pairs.append(("host", host.strip().lower()))
    # A value with a line break would let two different sets of identifiers encode the same text.
    return sorted((kind, " ".join(value.split())) for kind, value in pairs)


def fingerprint_sha256(*, root: str | None = None, hostname: str | None = None) -> str:
    """Hex SHA-256 of this machine's identifiers (see the module docstring for the exact bytes)."""
    digest = hashlib.sha256(DOMAIN)
    for kind, value in identifiers(root=root, hostname=hostname):
        digest.update(f"{kind}={value}\n".encode())
    return digest.hexdigest()
