"""Request bodies the platform did not read: read them to the end so that the client hears why.

A client that streams a large body (bidtool sending a bid part) writes all of it before it reads the
answer. When the platform answers early (signed out, wrong role, no such bid, deadline passed) and
closes the connection with the body unread, the kernel resets it, and the client sees a broken pipe
instead of the platform's error (R-B3: the tenderer must learn why). So every response, refusals
above all, is sent only after what is left of its body has been read and thrown away.
"""

from __future__ import annotations

import contextlib
from typing import BinaryIO

from flask import Flask, Response, request
from werkzeug.exceptions import ClientDisconnected

# The largest body any endpoint takes: a sealed bid part (bidding.bids.MAX_PART_SIZE).
LARGEST_UPLOAD = 4 * 1024**3
# Room for a few headers' worth over the largest upload; a body beyond it is not worth reading.
DRAIN_LIMIT = LARGEST_UPLOAD + 1024**2
_CHUNK = 1024**2


def discard_rest(stream: BinaryIO, limit: int = DRAIN_LIMIT) -> None:
    """Read what is left of ``stream`` without keeping it; ``limit`` bounds the work for a body
    that never ends. Reading it costs whoever sends it as much as the platform, and free
    registration would let anyone send a part as large anyway."""
    read = 0
    with contextlib.suppress(OSError, ValueError, ClientDisconnected):  # nobody is left to tell
        while read < limit and (chunk := stream.read(_CHUNK)):
            read += len(chunk)


def register(app: Flask) -> None:
    @app.after_request
    def read_what_is_left(response: Response) -> Response:
        announced = request.content_length
        chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
        if (announced or chunked) and (announced or 0) <= DRAIN_LIMIT:
            # request.stream is bounded by Content-Length, and empty once a handler read the body.
            discard_rest(request.stream)
        return response
