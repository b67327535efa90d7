"""Assertions on API.md's one error shape: {"code", "status", "message", "errors"?}."""
from __future__ import annotations

from http import HTTPStatus


def assert_error(response, status: int, *named: str) -> dict:
    """The response is a JSON error of `status`, and its message names each of `named`."""
    body = response.get_json()
    assert response.status_code == status, (response.status_code, body)
    assert body is not None, response.data[:300]
    assert body["code"] == status
    assert body["status"] == HTTPStatus(status).phrase
    assert isinstance(body["message"], str) and body["message"].strip()
    for text in named:
        assert text in body["message"], (text, body["message"])
    return body


def field_messages(body: dict, path: str, location: str = "json") -> list[str]:
    """The messages an error body lists for a dotted field path ("owner.email")."""
    node = body["errors"][location]
    for part in path.split("."):  # list items are keyed "0", "1"… once in JSON
        node = node[part]
    return node
