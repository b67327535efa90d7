"""API.md's contract for organizations, keys, datasets and the catalog: shapes and every error case."""
from __future__ import annotations

import pytest

from marketplace.extensions import limiter
from tests import factories
from tests.conftest import RATE_LIMITED_HEADER

ENDPOINTS = {
    "/api/v1/organizations": {"post"},
    "/api/v1/api-keys": {"get", "post"},
    "/api/v1/api-keys/{key_id}": {"delete"},
    "/api/v1/datasets": {"get", "post"},
    "/api/v1/datasets/{slug}": {"get", "patch"},
    "/api/v1/datasets/{slug}/records": {"post"},
    "/api/v1/datasets/{slug}/records/{external_id}": {"delete"},
    "/api/v1/datasets/{slug}/versions": {"post"},
    "/api/v1/datasets/{slug}/offers": {"post"},
    "/api/v1/datasets/{slug}/publish": {"post"},
    "/api/v1/datasets/{slug}/unpublish": {"post"},
    "/api/v1/offers/{offer_id}/retire": {"post"},
    "/api/v1/admin/ledger/check": {"get"},
    "/api/v1/licenses": {"get", "post"},
    "/api/v1/licenses/{license_id}": {"get"},
    "/api/v1/licenses/{license_id}/renewals": {"post"},
    "/api/v1/admin/licenses/{license_id}/refunds": {"post"},
    "/webhooks/stripe": {"post"},
}


def test_openapi_lists_every_endpoint(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    listed = {path: {m for m in ops if m in ("get", "post", "put", "patch", "delete")}
              for path, ops in spec["paths"].items()}
    assert listed == ENDPOINTS
    assert client.get("/api/docs").status_code == 200


def assert_error(response, status: int, *fields: str):
    body = response.get_json()
    assert response.status_code == status, body
    assert body["code"] == status and body["message"] and body["status"]
    for field in fields:
        assert field in body["message"], (field, body["message"])
    return body


# ---- organizations and keys --------------------------------------------------------------


def test_sign_up_answers_a_working_key_once(client):
    response = client.post("/api/v1/organizations", json={
        "kind": "buyer", "name": "Lab", "owner": {"email": "Lab@Example.test", "password": "long enough"}})
    assert response.status_code == 201
    body = response.get_json()
    assert (body["kind"], body["name"], body["slug"]) == ("buyer", "Lab", "lab")
    assert body["api_key"].startswith("dvd_")
    keys = client.get("/api/v1/api-keys", headers=factories.bearer(body["api_key"])).get_json()["items"]
    assert [key["prefix"] for key in keys] == [body["api_key"][:12]]
    assert "api_key" not in keys[0] and "secret_hash" not in keys[0]


def test_sign_up_errors(client, platform):
    ok = {"kind": "buyer", "name": "Lab", "owner": {"email": "x@example.test", "password": "long enough"}}
    assert_error(client.post("/api/v1/organizations", json={**ok, "kind": "seller"}), 422, "kind")
    body = assert_error(client.post("/api/v1/organizations",
                                    json={**ok, "owner": {"email": "nope", "password": "long enough"}}), 422)
    assert "email" in str(body["errors"])
    body = assert_error(client.post("/api/v1/organizations",
                                    json={**ok, "owner": {"email": "x@example.test", "password": "short"}}), 422)
    assert "password" in str(body["errors"])
    assert_error(client.post("/api/v1/organizations",
                             json={**ok, "owner": {"email": platform["email"], "password": "long enough"}}),
                 409, platform["email"])
    assert_error(client.post("/api/v1/organizations", data="{not json", content_type="application/json"), 400)


def test_keys_are_revocable_and_private(client, platform, buyer):
    made = client.post("/api/v1/api-keys", json={"label": "importer"}, headers=platform["headers"])
    assert made.status_code == 201
    new_key = made.get_json()
    assert client.get("/api/v1/api-keys", headers=factories.bearer(new_key["api_key"])).status_code == 200
    assert_error(client.delete(f"/api/v1/api-keys/{new_key['id']}", headers=buyer["headers"]), 404)
    assert client.delete(f"/api/v1/api-keys/{new_key['id']}", headers=platform["headers"]).status_code == 204
    assert_error(client.get("/api/v1/api-keys", headers=factories.bearer(new_key["api_key"])), 401)
    assert_error(client.get("/api/v1/api-keys"), 401)
    assert_error(client.get("/api/v1/api-keys", headers=factories.bearer("dvd_00000000_nope")), 401)


# ---- datasets ----------------------------------------------------------------------------


def test_dataset_validation_names_each_field(client, platform):
    body = assert_error(client.post("/api/v1/datasets", headers=platform["headers"], json=factories.dataset_body(
        slug="Bad Slug!", content_kind="novel", languages=["English"], consent_policy="maybe")), 422)
    assert set(body["errors"]["json"]) == {"slug", "content_kind", "languages", "consent_policy"}
    body = assert_error(client.post("/api/v1/datasets", headers=platform["headers"], json={}), 422)
    assert {"slug", "title", "content_kind", "languages"} <= set(body["errors"]["json"])


def test_dataset_roles_and_privacy(client, platform, other_platform, buyer):
    created = factories.create_dataset(client, platform, slug="forum-2024")
    assert created["status"] == "draft"
    assert_error(client.post("/api/v1/datasets", json=factories.dataset_body(slug="forum-2024"),
                             headers=platform["headers"]), 409, "forum-2024")
    assert_error(client.post("/api/v1/datasets", json=factories.dataset_body(), headers=buyer["headers"]), 403)
    assert_error(client.post("/api/v1/datasets", json=factories.dataset_body()), 401)
    # A draft is its platform's alone.
    assert client.get("/api/v1/datasets/forum-2024", headers=platform["headers"]).status_code == 200
    assert_error(client.get("/api/v1/datasets/forum-2024"), 404)
    assert_error(client.get("/api/v1/datasets/forum-2024", headers=other_platform["headers"]), 404)
    other = other_platform["headers"]
    assert_error(client.patch("/api/v1/datasets/forum-2024", json={"title": "Mine now"}, headers=other), 404)
    assert_error(client.post("/api/v1/datasets/forum-2024/versions", json={}, headers=other), 404)
    assert_error(client.post("/api/v1/datasets/forum-2024/publish", headers=other), 404)
    assert_error(client.post("/api/v1/datasets/forum-2024/offers", json=factories.offer_body(), headers=other), 404)
    assert_error(client.post("/api/v1/datasets/forum-2024/records", data=b"", headers=other), 404)
    assert_error(client.delete("/api/v1/datasets/forum-2024/records/r1", headers=other), 404)
    patched = client.patch("/api/v1/datasets/forum-2024", json={"title": "Forum, revised", "tags": ["b", "a", "b"]},
                           headers=platform["headers"])
    assert patched.status_code == 200
    assert (patched.get_json()["title"], patched.get_json()["tags"]) == ("Forum, revised", ["a", "b"])
    assert_error(client.patch("/api/v1/datasets/forum-2024", json={"weighting": "likes"},
                              headers=platform["headers"]), 422, "weighting")


def test_empty_import_and_too_large_body(client, platform, app):
    slug = factories.create_dataset(client, platform)["slug"]
    assert_error(client.post(f"/api/v1/datasets/{slug}/records", data=b"\n\n", headers=platform["headers"]), 422)
    app.config["MAX_CONTENT_LENGTH"] = 1000
    try:
        assert_error(client.post(f"/api/v1/datasets/{slug}/records", data=b"x" * 5000,
                                 headers={**platform["headers"], "Content-Type": "application/x-ndjson"}), 413)
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 512 * 1024 * 1024


def test_upsert_counts_and_default_tokens(client, platform):
    slug = factories.create_dataset(client, platform)["slug"]
    first = factories.import_records(client, platform, slug, [factories.record(1), factories.record(2),
                                                               factories.record(1, text="edited twice")])
    assert first == {"created": 2, "updated": 1}
    second = factories.import_records(client, platform, slug, [factories.record(2), factories.record(3)])
    assert second == {"created": 1, "updated": 1}
    version = client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"]).get_json()
    # r1 "edited twice" (2 words) + r2, r3 "post number N about things" (5 words each)
    assert (version["record_count"], version["token_count"]) == (3, 12)


# ---- versions ----------------------------------------------------------------------------


def test_versions_follow_semver_and_hash_the_content(client, platform):
    slug = factories.create_dataset(client, platform)["slug"]
    headers = platform["headers"]
    assert_error(client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=headers), 409, "no live records")
    factories.import_records(client, platform, slug, [factories.record(i) for i in range(4)])
    v1 = client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=headers).get_json()
    assert (v1["number"], v1["record_count"], v1["token_count"], v1["contributor_count"]) == ("1.0.0", 4, 20, 4)
    assert len(v1["sha256"]) == 64
    assert_error(client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=headers), 409, "Nothing changed")
    factories.import_records(client, platform, slug, [factories.record(i) for i in range(4)])  # unchanged
    assert_error(client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=headers), 409)
    factories.import_records(client, platform, slug, [factories.record(9)])
    v2 = client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=headers).get_json()
    assert (v2["number"], v2["record_count"]) == ("1.1.0", 5)
    assert v2["sha256"] != v1["sha256"]
    assert client.delete(f"/api/v1/datasets/{slug}/records/r9", headers=headers).status_code == 204
    assert client.delete(f"/api/v1/datasets/{slug}/records/r9", headers=headers).status_code == 204
    assert_error(client.delete(f"/api/v1/datasets/{slug}/records/nope", headers=headers), 404)
    v3 = client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=headers).get_json()
    assert (v3["number"], v3["record_count"]) == ("2.0.0", 4)
    assert v3["sha256"] == v1["sha256"]  # the same records again: the same bytes
    factories.import_records(client, platform, slug, [factories.record(0, text="changed words")])
    v4 = client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=headers).get_json()
    assert (v4["number"], v4["token_count"]) == ("3.0.0", 17)


# ---- offers and publication -------------------------------------------------------------


def test_offer_rules(client, platform, app):
    slug = factories.create_dataset(client, platform)["slug"]
    headers = platform["headers"]
    url = f"/api/v1/datasets/{slug}/offers"
    assert_error(client.post(url, json=factories.offer_body(contributor_share_bps=4999), headers=headers),
                 422, "contributor_share_bps")
    body = assert_error(client.post(url, json=factories.offer_body(
        price={"model": "flat", "amount": 100, "currency": "eur"}), headers=headers), 422)
    assert body["errors"]["json"]["price"]["currency"] == ["This marketplace sells in 'usd' only."]
    assert_error(client.post(url, json=factories.offer_body(scopes=["mining"]), headers=headers), 422, "scopes")
    assert_error(client.post(url, json=factories.offer_body(territory=["Atlantis"]), headers=headers), 422, "territory")
    assert_error(client.post(url, json=factories.offer_body(price={"model": "flat", "amount": 1.5,
                                                                   "currency": "usd"}), headers=headers), 422)
    offer = client.post(url, json=factories.offer_body(
        price={"model": "per_1k_records", "amount": 333, "currency": "usd"}), headers=headers)
    assert offer.status_code == 201
    assert offer.get_json()["quote"] is None  # no version yet
    factories.import_records(client, platform, slug, [factories.record(i) for i in range(1001)])
    client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=headers)
    dataset = client.get(f"/api/v1/datasets/{slug}", headers=headers).get_json()
    # ceil(333 * 1001 / 1000) = ceil(333.333) = 334
    assert dataset["offers"][0]["quote"] == {"amount": 334, "currency": "usd"}
    offer_id = offer.get_json()["id"]
    retired = client.post(f"/api/v1/offers/{offer_id}/retire", headers=headers)
    assert retired.status_code == 200 and retired.get_json()["retired_at"]
    assert_error(client.post(f"/api/v1/datasets/{slug}/publish", headers=headers), 409, "offer")


def test_publish_needs_a_version_and_an_offer(client, platform, other_platform):
    slug = factories.create_dataset(client, platform)["slug"]
    headers = platform["headers"]
    assert_error(client.post(f"/api/v1/datasets/{slug}/publish", headers=headers), 409,
                 "a frozen version", "an offer")
    assert_error(client.post("/api/v1/offers/999999/retire", headers=headers), 404)
    published = factories.published_dataset(client, other_platform)
    assert_error(client.post(f"/api/v1/offers/{published['offers'][0]['id']}/retire", headers=headers), 404)
    assert client.get(f"/api/v1/datasets/{published['slug']}").status_code == 200
    assert client.post(f"/api/v1/datasets/{published['slug']}/unpublish",
                       headers=other_platform["headers"]).status_code == 200
    assert_error(client.get(f"/api/v1/datasets/{published['slug']}"), 404)
    assert client.get(f"/api/v1/datasets/{published['slug']}", headers=other_platform["headers"]).status_code == 200


# ---- catalog ------------------------------------------------------------------------------


def test_catalog_search_filters_and_pages(client, platform, other_platform):
    factories.published_dataset(client, platform, slug="forum-posts", title="Forum posts about bicycles",
                                tags=["cycling"], languages=["en", "fr"])
    factories.published_dataset(client, other_platform, slug="photo-captions", title="Photography captions",
                                content_kind="image-caption", languages=["de"], summary="Captions of photos.")
    factories.create_dataset(client, platform, slug="draft-bicycles", title="Draft about bicycles")

    def slugs(query: str):
        body = client.get(f"/api/v1/datasets{query}").get_json()
        return [item["slug"] for item in body["items"]]

    assert sorted(slugs("")) == ["forum-posts", "photo-captions"]
    assert slugs("?q=bicyc") == ["forum-posts"]
    assert slugs("?q=photo%20capt") == ["photo-captions"]
    assert slugs("?q=bicycles%20photography") == []
    assert slugs("?q=cycling") == ["forum-posts"]
    assert slugs("?language=fr") == ["forum-posts"]
    assert slugs("?content_kind=image-caption") == ["photo-captions"]
    assert sorted(slugs("?scope=ai-train")) == ["forum-posts", "photo-captions"]
    assert slugs("?scope=ad-targeting") == []
    assert slugs("?price_model=per_1m_tokens") == []
    page = client.get("/api/v1/datasets?per_page=1&page=2").get_json()
    assert (page["total"], page["page"], page["per_page"], len(page["items"])) == (2, 2, 1, 1)
    assert_error(client.get("/api/v1/datasets?per_page=201"), 422, "per_page")
    assert_error(client.get("/api/v1/datasets?page=0"), 422, "page")
    assert_error(client.get("/api/v1/datasets?scope=mining"), 422, "scope")
    item = client.get("/api/v1/datasets?q=bicycles").get_json()["items"][0]
    assert item["counts"] == {"records": 10, "tokens": 50, "contributors": 7}
    assert item["platform"]["name"].startswith("Forum Co")


def test_unknown_api_route_is_a_json_404_and_web_404_is_a_page(client):
    assert_error(client.get("/api/v1/nothing-here"), 404)
    page = client.get("/nothing-here")
    assert page.status_code == 404 and b"<html" in page.data and b"Browse the catalog" in page.data


def test_admin_create_prints_a_working_key_last(runner, client):
    result = runner.invoke(args=["admin", "create", "ops@example.test"])
    assert result.exit_code == 0
    key = result.stdout.strip().splitlines()[-1]
    assert key.startswith("dvd_")
    assert client.get("/api/v1/admin/ledger/check", headers=factories.bearer(key)).status_code == 200
    assert runner.invoke(args=["admin", "create", "not-an-email"]).exit_code == 1


def test_log_in_is_rate_limited(client):
    limiter.reset()
    marked = {RATE_LIMITED_HEADER: "1"}
    form = {"email": "a@example.test", "password": "wrong password"}
    statuses = [client.post("/login", data=form, headers=marked).status_code for _ in range(11)]
    assert statuses[:10] == [422] * 10 and statuses[10] == 429
    page = client.post("/login", data=form, headers=marked)
    assert page.status_code == 429 and b"wait a minute" in page.data
    limiter.reset()


@pytest.mark.parametrize("path", ["/", "/datasets", "/datasets?q=none-such-words", "/signup", "/login"])
def test_public_pages_render(client, path):
    assert client.get(path).status_code == 200
