"""bidtool for those who want it (issue 15 item 8): a download page with a self-contained bidtool (a
Python zip application holding bidtool, the crypto package it uses and click), which needs only Python
and ``cryptography``, with its version, its SHA-256 and the commands for a tender filled in."""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
from pathlib import Path

import click
from flask import Blueprint, Response, current_app, render_template, request
from flask_login import current_user

import bidtool
import crypto
from bidding import services
from core.db import db

bp = Blueprint("bidtool_download", __name__)

_EPOCH = (1980, 1, 1, 0, 0, 0)  # zip's earliest time: the archive's bytes depend on the sources only
_MAIN = b"import sys\n\nfrom bidtool.cli import main\n\nsys.exit(main())\n"


def _sources() -> list[tuple[str, Path]]:
    members = []
    for package in (bidtool, crypto, click):
        root = Path(str(package.__file__)).parent
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix in (".py", ".typed") and "__pycache__" not in path.parts:
                members.append((f"{root.name}/{path.relative_to(root).as_posix()}", path))
    return members


def build() -> bytes:
    """The zip application, built reproducibly (fixed times and order) from the running code."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        entries = [("__main__.py", _MAIN)] + [(name, path.read_bytes()) for name, path in _sources()]
        for name, data in sorted(entries):
            info = zipfile.ZipInfo(name, _EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return b"#!/usr/bin/env python3\n" + out.getvalue()


def package() -> tuple[bytes, str]:
    cached = current_app.extensions.get("sunbid.bidtool_pyz")
    if cached is None:
        data = build()
        cached = (data, hashlib.sha256(data).hexdigest())
        current_app.extensions["sunbid.bidtool_pyz"] = cached
    return cached


@bp.get("/bidtool")
def page():
    """The download page; with ``?tender_id=`` the commands name that tender and its opening key."""
    tender = None
    raw = request.args.get("tender_id")
    if raw:
        try:
            tender = services.visible(
                db.session, current_user if current_user.is_authenticated else None, uuid.UUID(raw)
            )
        except ValueError:
            tender = None
    data, sha256 = package()
    org = current_user.organization if current_user.is_authenticated else None
    return render_template(
        "bidding/bidtool.html",
        tender=tender,
        version=bidtool.version(),
        sha256=sha256,
        size=len(data),
        server=request.host_url.rstrip("/"),
        org=org,
    )


@bp.get("/bidtool/bidtool.pyz")
def download():
    data, sha256 = package()
    return Response(
        data,
        mimetype="application/zip",
        headers={"Content-Disposition": "attachment; filename=bidtool.pyz", "X-Content-SHA256": sha256},
    )
