"""Helpers that make rows through the public surface (the API), as a user would."""
from __future__ import annotations

import itertools
import re

import orjson

_counter = itertools.count(1)

PASSWORD = "correct horse battery"


def signup(client, kind: str, name: str) -> dict:
    n = next(_counter)
    email = f"{kind}{n}@example.test"
    response = client.post(
        "/api/v1/organizations",
        json={"kind": kind, "name": f"{name} {n}", "owner": {"email": email, "password": PASSWORD}},
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    return {**body, "headers": bearer(body["api_key"]), "email": email, "password": PASSWORD}


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def dataset_body(slug: str | None = None, **overrides) -> dict:
    body = {
        "slug": slug or f"dataset-{next(_counter)}",
        "title": "Forum posts 2024",
        "summary": "Public posts from a technology forum.",
        "description": "Every public post of 2024.\n\nModerated content removed.",
        "content_kind": "post",
        "languages": ["en"],
        "tags": ["forum", "technology"],
        "consent_policy": "opt_out",
        "weighting": "records",
    }
    body.update(overrides)
    return body


def create_dataset(client, owner: dict, **overrides) -> dict:
    response = client.post("/api/v1/datasets", json=dataset_body(**overrides), headers=owner["headers"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def record(n: int, contributor: str | None = None, region: str = "US", **overrides) -> dict:
    line = {
        "external_id": f"r{n}",
        "contributor": {"external_id": contributor or f"u{n % 7}", "region": region},
        "text": f"post number {n} about things",
        "created_at": "2024-05-01T12:00:00Z",
    }
    line.update(overrides)
    return line


def ndjson(lines) -> bytes:
    return b"".join(orjson.dumps(line) + b"\n" for line in lines)


def import_records(client, owner: dict, slug: str, lines, status: int = 200):
    response = client.post(
        f"/api/v1/datasets/{slug}/records",
        data=ndjson(lines),
        headers={**owner["headers"], "Content-Type": "application/x-ndjson"},
    )
    assert response.status_code == status, response.get_json()
    return response.get_json()


def offer_body(**overrides) -> dict:
    body = {
        "name": "Training, worldwide",
        "scopes": ["ai-train"],
        "term_months": 12,
        "territory": ["*"],
        "exclusive": False,
        "price": {"model": "flat", "amount": 100_000, "currency": "usd"},
        "billing": "one_time",
        "contributor_share_bps": 5000,
    }
    body.update(overrides)
    return body


def published_dataset(client, owner: dict, n_records: int = 10, **overrides) -> dict:
    """A dataset with records, a version and an offer, published."""
    dataset = create_dataset(client, owner, **overrides)
    slug = dataset["slug"]
    import_records(client, owner, slug, [record(i) for i in range(n_records)])
    assert client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=owner["headers"]).status_code == 201
    offer = client.post(f"/api/v1/datasets/{slug}/offers", json=offer_body(), headers=owner["headers"])
    assert offer.status_code == 201, offer.get_json()
    published = client.post(f"/api/v1/datasets/{slug}/publish", headers=owner["headers"])
    assert published.status_code == 200, published.get_json()
    return published.get_json()


def login(client, who: dict) -> None:
    """Log `who` (a signup() result) in through the web form."""
    response = client.post("/login", data={"email": who["email"], "password": who["password"]})
    assert response.status_code == 302, response.data[:500]


#: A form's CSRF token in a rendered page.
CSRF_TOKEN = re.compile(rb'name="csrf_token"[^>]*value="([^"]+)"')


def token_from(page) -> str:
    """The CSRF token of the (first) form in a test client response."""
    match = CSRF_TOKEN.search(page.data)
    assert match, page.data[:500]
    return match.group(1).decode()
