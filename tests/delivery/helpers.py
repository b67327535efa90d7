"""A dataset of known people for delivery tests, sold through the API, and downloads over HTTP."""
from __future__ import annotations

import gzip as gzip_module

import orjson

from tests import factories

#: (external id, region, records), records numbered r0… in this order. FR and DE are opt-in regions.
PEOPLE = [("ana", "US", 3), ("bo", "FR", 2), ("cy", "US", 1), ("dee", "DE", 4), ("eve", "US", 2),
          ("fay", "US", 2), ("gus", "US", 1)]


def records_of(person: str) -> list[str]:
    n, out = 0, {}
    for name, _region, count in PEOPLE:
        out[name] = [f"r{n + i}" for i in range(count)]
        n += count
    return out[person]


def lines(texts: dict | None = None) -> list[dict]:
    texts = texts or {}
    out, n = [], 0
    for person, region, count in PEOPLE:
        for _ in range(count):
            out.append(factories.record(n, contributor=person, region=region,
                                        text=texts.get(f"r{n}", f"post number {n} about things")))
            n += 1
    return out


def listed(client, platform: dict, *, billing: str = "annual", scopes=("ai-train",)) -> dict:
    """A published dataset of PEOPLE's records (version 1.0.0) with one offer: {slug, offer}."""
    dataset = factories.create_dataset(client, platform)
    slug = dataset["slug"]
    factories.import_records(client, platform, slug, lines())
    freeze(client, platform, slug)
    body = factories.offer_body(scopes=list(scopes), billing=billing)
    response = client.post(f"/api/v1/datasets/{slug}/offers", json=body, headers=platform["headers"])
    assert response.status_code == 201, response.get_json()
    assert client.post(f"/api/v1/datasets/{slug}/publish", headers=platform["headers"]).status_code == 200
    return {"slug": slug, "offer": response.get_json()["id"]}


def freeze(client, platform: dict, slug: str) -> dict:
    response = client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"])
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def issue(client, buyer: dict, license_id: int, **body):
    return client.post(f"/api/v1/licenses/{license_id}/downloads", json=body, headers=buyer["headers"])


def urls(client, buyer: dict, license_id: int, **body) -> dict:
    response = issue(client, buyer, license_id, **body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def fetch(client, url: str, **headers) -> bytes:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, (response.status_code, response.data[:300])
    body = response.data
    return gzip_module.decompress(body) if response.headers.get("Content-Encoding") == "gzip" else body


def parsed(body: bytes) -> list[dict]:
    return [orjson.loads(line) for line in body.splitlines()]


def download(client, buyer: dict, license_id: int, **body) -> tuple[bytes, dict]:
    """(the export's bytes, its manifest), fetched through fresh signed URLs."""
    signed = urls(client, buyer, license_id, **body)
    manifest = client.get(signed["manifest_url"])
    assert manifest.status_code == 200, manifest.get_json()
    return fetch(client, signed["url"]), manifest.get_json()


def real(lines_: list[dict], canary_ids: set[str]) -> dict[str, dict]:
    """external id → line, canaries left out."""
    return {line["external_id"]: line for line in lines_ if line["external_id"] not in canary_ids}
