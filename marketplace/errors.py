"""Domain errors and the one error shape every response uses.

Services raise the domain errors below; `register` turns them (and Flask's own
HTTP errors) into `{"code", "status", "message", "errors"}` for `/api` and
`/webhooks`, and into an HTML page that helps for everything else. Every
error rolls the request's session back, so an error changes nothing.
"""
from __future__ import annotations

import secrets
from http import HTTPStatus

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException


class DomainError(Exception):
    """A rule of the product refused the request."""

    code = 400
    #: More top-level members of the JSON error body, beside code, status and message
    #: (API.md: a freeze refused during the personal-data scan says `scanned` and `total`).
    extra: dict | None = None

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors


class NotFound(DomainError):
    code = 404


class Forbidden(DomainError):
    code = 403


class Conflict(DomainError):
    code = 409


class Invalid(DomainError):
    """Validation failed; `errors` names the fields: {"field": ["message"]}."""

    code = 422

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message, {"json": errors} if errors is not None else None)


def field_errors(path: str, messages: list[str]) -> dict:
    """`{"owner": {"email": [...]}}` for the path "owner.email": marshmallow's nesting."""
    head, _, rest = path.partition(".")
    return {head: field_errors(rest, messages) if rest else list(messages)}


def invalid_field(field: str, message: str) -> Invalid:
    """A 422 naming `field` (a dotted path for nested fields) in the message and in `errors`."""
    return Invalid(f"{field}: {message}", field_errors(field, [message]))


def invalid_header(name: str, message: str) -> Invalid:
    """A 422 naming the request header `name`: errors = {"headers": {name: [message]}}."""
    error = Invalid(f"{name}: {message}")
    error.errors = {"headers": {name: [message]}}
    return error


def flatten_errors(messages: dict, prefix: str = ""):
    """(dotted path, first message) for each leaf of a marshmallow error mapping."""
    for key, detail in messages.items():
        path = f"{prefix}{key}"
        if isinstance(detail, dict):
            yield from flatten_errors(detail, f"{path}.")
        elif isinstance(detail, list | tuple) and detail:
            yield path, str(detail[0])
        else:
            yield path, str(detail)


def _wants_json() -> bool:
    path = request.path
    return (
        path.startswith("/api/")
        or path.startswith("/webhooks/")
        or request.accept_mimetypes.best == "application/json"
    )


def _string_keys(errors):
    """The error mapping with every key a string, as JSON has them.

    Marshmallow keys a list's item errors by index (int) and adds the list's own errors under
    "_schema": {0: [...], "_schema": [...]} can't be sorted, so it would not serialize.
    """
    if isinstance(errors, dict):
        return {str(key): _string_keys(value) for key, value in errors.items()}
    if isinstance(errors, list | tuple):
        return [_string_keys(value) for value in errors]
    return errors


def error_response(code: int, message: str, errors: dict | None = None, headers=None,
                   extra: dict | None = None):
    status = HTTPStatus(code)
    if errors:
        errors = _string_keys(errors)
    if _wants_json():
        body = {**(extra or {}), "code": code, "status": status.phrase, "message": message}
        if errors:
            body["errors"] = errors
        response = jsonify(body)
    else:
        response = render_template(
            "error.html", code=code, status=status.phrase, message=message, errors=errors
        )
    return response, code, headers or {}


def _summarize(messages) -> str:
    """A one-line message naming the fields of a marshmallow error mapping (nested as a.b)."""
    if isinstance(messages, dict):
        location = messages.get("json", messages.get("query", messages.get("form", messages)))
        if isinstance(location, dict) and location:
            parts = [f"{path}: {text}" for path, text in flatten_errors(location)]
            return "; ".join(parts[:5])
    return "Validation failed."


def _malformed_body(errors) -> bool:
    """webargs' answer to a body that isn't JSON: {"json": ["Invalid JSON body."]}."""
    return isinstance(errors, dict) and isinstance(errors.get("json"), list)


def _forget_body() -> None:
    """A body past the limit can't be read: the error page's own forms (the log-out button) see an
    empty form instead of raising the 413 again."""
    from werkzeug.datastructures import ImmutableMultiDict

    request.__dict__["form"] = ImmutableMultiDict()
    request.__dict__["files"] = ImmutableMultiDict()


def register(app: Flask) -> None:
    from marketplace import boundary  # the boundary's error path (it imports this module)

    @app.errorhandler(DomainError)
    def handle_domain_error(error: DomainError):
        boundary.rollback()
        return error_response(error.code, error.message, error.errors, extra=error.extra)

    @app.errorhandler(HTTPException)
    def handle_http_exception(error: HTTPException):
        boundary.rollback()
        if error.code == 413:
            _forget_body()
        data = getattr(error, "data", None) or {}
        errors = data.get("messages") or data.get("errors")
        message = data.get("message")
        if message is None and error.code == 400 and _malformed_body(errors):
            message = "Malformed request body: it is not valid JSON."
        if message is None and errors and error.code in (400, 422):
            message = _summarize(errors)
        if message is None:
            message = error.description or HTTPStatus(error.code).phrase
        if error.code == 400 and errors is None and "json" in (request.content_type or ""):
            message = data.get("message") or "Malformed request body: it is not valid JSON."
        headers = data.get("headers") or {}
        if error.code == 405:
            headers = dict(error.get_headers())
            headers.pop("Content-Type", None)
        return error_response(error.code, message, errors, headers)

    @app.errorhandler(Exception)
    def handle_unexpected(error: Exception):
        boundary.rollback()
        reference = secrets.token_hex(6)
        app.logger.exception("Unhandled error %s on %s %s", reference, request.method, request.path)
        return error_response(500, f"Something went wrong on our side. Nothing was changed. "
                                   f"Reference: {reference}.")
