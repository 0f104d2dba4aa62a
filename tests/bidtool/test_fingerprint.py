"""crypto.fingerprint: the 机器码 hash is stable, ignores what comes and goes, and hides its inputs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from crypto import fingerprint

CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz

processor\t: 1
model name\t: Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz
"""


def fake_machine(
    root: Path,
    interfaces: dict[str, tuple[str, bool]],
    machine_id: str | None = "0123456789abcdef0123456789abcdef",
) -> Path:
    if machine_id is not None:
        (root / "etc").mkdir(parents=True)
        (root / "etc" / "machine-id").write_text(machine_id + "\n")
    (root / "proc").mkdir(parents=True, exist_ok=True)
    (root / "proc" / "cpuinfo").write_text(CPUINFO)
    for name, (address, physical) in interfaces.items():
        folder = root / "sys" / "class" / "net" / name
        folder.mkdir(parents=True)
        (folder / "address").write_text(address + "\n")
        if physical:
            (folder / "device").mkdir()
    return root


BASE = {
    "lo": ("00:00:00:00:00:00", False),
    "eth0": ("52:54:00:AB:CD:EF", True),
    "wlan0": ("a0:b1:c2:d3:e4:f5", True),
    "docker0": ("02:42:ac:11:00:01", False),
    "veth1234": ("6e:11:22:33:44:55", False),
    "dummy": ("00:00:00:00:00:00", True),
}


def test_identifiers_and_the_exact_hash(tmp_path: Path) -> None:
    root = fake_machine(tmp_path, BASE)
    pairs = fingerprint.identifiers(root=str(root), hostname="Build-PC")
    assert pairs == [
        ("cpu", "Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz"),
        ("host", "build-pc"),
        ("mac", "52:54:00:ab:cd:ef"),
        ("mac", "a0:b1:c2:d3:e4:f5"),
        ("machine-id", "0123456789abcdef0123456789abcdef"),
    ]
    text = b"sunbid-machine-fingerprint-v1\n" + "".join(f"{k}={v}\n" for k, v in pairs).encode()
    assert (
        fingerprint.fingerprint_sha256(root=str(root), hostname="Build-PC")
        == hashlib.sha256(text).hexdigest()
    )


def test_virtual_interfaces_do_not_matter(tmp_path: Path) -> None:
    a = fake_machine(tmp_path / "a", BASE)
    b = fake_machine(tmp_path / "b", {k: v for k, v in BASE.items() if k not in ("docker0", "veth1234")})
    assert fingerprint.fingerprint_sha256(root=str(a), hostname="h") == fingerprint.fingerprint_sha256(
        root=str(b), hostname="h"
    )


@pytest.mark.parametrize(
    ("change", "value"),
    [("machine_id", "ffffffffffffffffffffffffffffffff"), ("mac", "52:54:00:ab:cd:00"), ("host", "other")],
)
def test_each_identifier_changes_the_hash(tmp_path: Path, change: str, value: str) -> None:
    base = fingerprint.fingerprint_sha256(root=str(fake_machine(tmp_path / "a", BASE)), hostname="h")
    interfaces = dict(BASE)
    machine_id = "0123456789abcdef0123456789abcdef"
    host = "h"
    if change == "machine_id":
        machine_id = value
    elif change == "mac":
        interfaces["eth0"] = (value, True)
    else:
        host = value
    other = fingerprint.fingerprint_sha256(
        root=str(fake_machine(tmp_path / "b", interfaces, machine_id)), hostname=host
    )
    assert other != base


def test_dbus_machine_id_and_missing_files(tmp_path: Path) -> None:
    root = fake_machine(tmp_path, {}, machine_id=None)
    (root / "var" / "lib" / "dbus").mkdir(parents=True)
    (root / "var" / "lib" / "dbus" / "machine-id").write_text("ABCDEF\n")
    assert ("machine-id", "abcdef") in fingerprint.identifiers(root=str(root), hostname="h")
    bare = tmp_path / "bare"
    bare.mkdir()
    assert fingerprint.identifiers(root=str(bare), hostname="h") == [("host", "h")]
    assert len(fingerprint.fingerprint_sha256(root=str(bare), hostname="")) == 64


def test_arm_cpuinfo(tmp_path: Path) -> None:
    root = tmp_path / "arm"
    (root / "proc").mkdir(parents=True)
    (root / "proc" / "cpuinfo").write_text("processor\t: 0\nBogoMIPS\t: 48.00\nHardware\t: BCM2835\n")
    assert ("cpu", "BCM2835") in fingerprint.identifiers(root=str(root), hostname="h")


def test_this_machine_is_deterministic() -> None:
    first = fingerprint.fingerprint_sha256()
    assert first == fingerprint.fingerprint_sha256()
    assert len(first) == 64 and int(first, 16) >= 0


def test_non_linux_fallbacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fingerprint.platform, "system", lambda: "Windows")
    monkeypatch.setattr(fingerprint.uuid, "getnode", lambda: 0x001122334455)
    monkeypatch.setattr(fingerprint.platform, "machine", lambda: "AMD64")
    monkeypatch.setattr(fingerprint.platform, "processor", lambda: "Intel64 Family 6")
    pairs = fingerprint.identifiers(hostname="DESKTOP-1")
    assert pairs == [("cpu", "AMD64 Intel64 Family 6"), ("host", "desktop-1"), ("mac", "00:11:22:33:44:55")]
    # A random stand-in from uuid.getnode (multicast bit set) is not a hardware identifier.
    monkeypatch.setattr(fingerprint.uuid, "getnode", lambda: 0x010000000001)
    assert [k for k, _ in fingerprint.identifiers(hostname="x")] == ["cpu", "host"]
