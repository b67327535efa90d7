"""The export as an HTTP body: gzip when the client asks, logged when it ends."""
from __future__ import annotations

import zlib
from collections.abc import Iterator

from flask import Response, stream_with_context

from marketplace.delivery.export import Export

JSONL = "application/x-ndjson"


def wants_gzip(accept_encodings) -> bool:
    """`Accept-Encoding` names gzip with a quality above zero."""
    return accept_encodings["gzip"] > 0


def export_response(export: Export, *, gzip: bool, filename: str, on_end) -> Response:
    """A streamed response of `export` (no Content-Length: the size is known only at the end).

    `on_end(tally, gzip)` runs once when the body has been sent to its end or the client went
    away, with what was sent.
    """
    def body() -> Iterator[bytes]:
        compressor = zlib.compressobj(6, zlib.DEFLATED, 31) if gzip else None
        try:
            for chunk in export:
                out = compressor.compress(chunk) if compressor else chunk
                if out:
                    yield out
            if compressor:
                yield compressor.flush()
        finally:
            # End the export's read transaction (its snapshot) before the log is written elsewhere.
            export.session.rollback()
            on_end(export.tally, gzip)

    response = Response(stream_with_context(body()), mimetype=JSONL)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Vary"] = "Accept-Encoding"
    response.headers["Cache-Control"] = "private, no-store"
    if gzip:
        response.headers["Content-Encoding"] = "gzip"
    return response
