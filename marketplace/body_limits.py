"""How large a request body may be: small everywhere, large only where a file is imported.

`MAX_CONTENT_LENGTH` (1 MiB unless configured) bounds every request; a view marked
`@large_body` (records and consent imports, the payout results file, the records upload page)
may read up to `MAX_IMPORT_LENGTH` instead, streamed. Past either limit the answer is a 413, in
the API's JSON error shape or as the HTML error page (marketplace/errors.py).
"""
from __future__ import annotations

from apispec import BasePlugin
from flask import Flask, current_app, request

#: What the OpenAPI document says of a body past the limit.
TOO_LARGE = "Body larger than the configured limit (MAX_CONTENT_LENGTH, 1 MiB; imports MAX_IMPORT_LENGTH, 512 MiB)."


def large_body(view):
    """Let `view` take a body of up to MAX_IMPORT_LENGTH bytes. Put it right under the route."""
    view.large_body = True
    return view


def _apply_limit() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "large_body", False):
        request.max_content_length = current_app.config["MAX_IMPORT_LENGTH"]


def init_app(app: Flask) -> None:
    """Register before any hook that reads the body (CSRF reads forms)."""
    app.before_request(_apply_limit)


class DocumentTooLarge(BasePlugin):
    """Every operation that takes a body documents the 413 it answers past the limit."""

    def operation_helper(self, path=None, operations=None, **kwargs) -> None:
        for operation in (operations or {}).values():
            if "requestBody" in operation:
                operation.setdefault("responses", {}).setdefault("413", {"description": TOO_LARGE})
