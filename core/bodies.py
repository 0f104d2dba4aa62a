"""How large a request body may be, and reading unread bodies to the end so the client hears why.

Limits: a request body is at most ``BODY_LIMIT`` (the largest file a form or API takes, tender
documents, evidence and contracts, plus room for multipart framing); Werkzeug refuses a larger one
with 413 before reading it, instead of spooling it to disk for a view to refuse. Only the bid part
upload raises its own request's limit (:func:`allow_upload_up_to`), to 4 GiB
(``crypto.bidpack.MAX_PART_SIZE``).

Draining: a client that streams a large body (bidtool sending a bid part) writes all of it before it
reads the answer. When the platform answers early (signed out, wrong role, no such bid, deadline
passed) and closes the connection with the body unread, the kernel resets it, and the client sees a
broken pipe instead of the platform's error (R-B3: the tenderer must learn why). So a response goes
out only after what is left of its body, up to the request's limit, has been read and thrown away.
"""

from __future__ import annotations

import contextlib
from typing import IO, Any

from flask import Flask, Response, g, request
from flask_babel import format_decimal
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge

from crypto.bidpack import MAX_PART_SIZE

MIB = 1024**2
# The largest file an ordinary upload takes (tender documents, conduct evidence, contracts).
LARGEST_FILE = 200 * MIB
# Room over a file for multipart framing and form fields.
_SLACK = MIB
BODY_LIMIT = LARGEST_FILE + _SLACK
_CHUNK = MIB


def format_size(size: int) -> str:
    """A byte count as people read upload limits: "200 MiB", "64 KiB" (the number in the locale's form)."""

    for unit, scale in (("GiB", 1024**3), ("MiB", MIB), ("KiB", 1024)):
        if size >= scale:
            return f"{format_decimal(size / scale, '#,##0.#')} {unit}"
    return f"{size} B"


def allow_upload_up_to(size: int) -> None:
    """Raise this request's body limit to ``size`` (call before the body is touched)."""
    request.max_content_length = size + _SLACK


def discard_rest(stream: IO[bytes], limit: int) -> None:
    """Read what is left of ``stream`` without keeping it, at most ``limit`` bytes. Reading it costs
    whoever sends it as much as the platform, and within the request's own limit."""
    read = 0
    # Nobody is left to tell, or the body outgrew its limit after all (chunked, no Content-Length).
    with contextlib.suppress(OSError, ValueError, ClientDisconnected, RequestEntityTooLarge):
        while read < limit and (chunk := stream.read(_CHUNK)):
            read += len(chunk)


def register(app: Flask) -> None:
    @app.context_processor
    def upload_limit() -> dict[str, Any]:
        # For static/js/uploads.js: a file too large is refused in the browser, before it is sent.
        limit = app.config["MAX_CONTENT_LENGTH"]
        return {"upload_limit": limit, "upload_limit_text": format_size(limit) if limit else ""}

    @app.after_request
    def read_what_is_left(response: Response) -> Response:
        announced = request.content_length
        chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        # No configured limit: nothing the platform takes is larger than a bid part.
        limit = request.max_content_length or MAX_PART_SIZE + _SLACK
        if (announced or chunked) and (announced or 0) <= limit:
            stream = request.stream  # bounded by Content-Length
            if not getattr(stream, "is_exhausted", False):
                # What the view did not commit is discarded at teardown anyway: do it now, so that no
                # transaction (a lock on SQLite, a pooled connection) waits on a slow client's bytes.
                session = g.get("_sunbid_session")
                if session is not None:
                    session.rollback()
                discard_rest(stream, limit)
        return response
