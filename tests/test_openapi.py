"""The OpenAPI document describes every endpoint of the JSON API, with the full /api/v1 prefix."""
from __future__ import annotations

import re

import pytest

#: Issue 2's endpoints (API.md "Organizations and keys", "Datasets…", "Catalog").
ISSUE_2 = {
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
}
METHODS = {"get", "post", "put", "patch", "delete"}
NOT_ENDPOINTS = {"/api/v1/openapi.json", "/api/docs", "/api/docs/<path:filename>"}


@pytest.fixture(scope="module")
def spec(app):
    with app.test_client() as client:
        response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def documented(spec) -> dict[str, set[str]]:
    return {path: {m for m in operations if m in METHODS} for path, operations in spec["paths"].items()}


def built(app) -> dict[str, set[str]]:
    """Every JSON route the app serves, in OpenAPI's path syntax."""
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/api/", "/webhooks/")) or rule.rule in NOT_ENDPOINTS:
            continue
        path = re.sub(r"<(?:[a-z]+(?:\([^)]*\))?:)?([a-z_]+)>", r"{\1}", rule.rule)
        routes.setdefault(path, set()).update(m.lower() for m in rule.methods if m.lower() in METHODS)
    return routes


def test_every_built_endpoint_is_documented_and_nothing_else(app, spec):
    assert documented(spec) == built(app)


def test_issue_2s_endpoints_are_there(spec):
    paths = documented(spec)
    assert {path: paths.get(path) for path in ISSUE_2} == ISSUE_2


def test_paths_carry_the_full_prefix(spec):
    assert sorted(path for path in spec["paths"] if not path.startswith(("/api/v1/", "/webhooks/"))) == []


@pytest.mark.parametrize(("path", "method", "codes"), [
    ("/api/v1/datasets", "post", {"201", "401", "403", "409", "422"}),
    ("/api/v1/datasets/{slug}", "patch", {"200", "401", "403", "404", "422"}),
    ("/api/v1/datasets/{slug}/records", "post", {"200", "401", "403", "404", "413", "422"}),
    ("/api/v1/datasets/{slug}/records/{external_id}", "delete", {"204", "401", "403", "404"}),
    ("/api/v1/datasets/{slug}/versions", "post", {"201", "401", "403", "404", "409"}),
    ("/api/v1/datasets/{slug}/offers", "post", {"201", "401", "403", "404", "422"}),
    ("/api/v1/datasets/{slug}/publish", "post", {"200", "401", "403", "404", "409"}),
    ("/api/v1/offers/{offer_id}/retire", "post", {"200", "401", "403", "404"}),
    ("/api/v1/api-keys", "post", {"201", "401"}),
    ("/api/v1/api-keys/{key_id}", "delete", {"204", "401", "404"}),
])
def test_keyed_operations_say_so_and_list_their_answers(spec, path, method, codes):
    operation = spec["paths"][path][method]
    assert operation["security"] == [{"bearer": []}]
    assert codes <= set(operation["responses"]), sorted(operation["responses"])
    assert "bearer" in spec["components"]["securitySchemes"]


@pytest.mark.parametrize(("path", "method"), [("/api/v1/organizations", "post"), ("/api/v1/datasets", "get"),
                                              ("/api/v1/datasets/{slug}", "get")])
def test_public_operations_need_no_key(spec, path, method):
    assert "security" not in spec["paths"][path][method]


def test_the_records_import_takes_ndjson(spec):
    body = spec["paths"]["/api/v1/datasets/{slug}/records"]["post"]["requestBody"]
    assert list(body["content"]) == ["application/x-ndjson"]


def test_the_catalog_documents_its_parameters(spec):
    names = {p["name"] for p in spec["paths"]["/api/v1/datasets"]["get"]["parameters"]}
    assert names == {"q", "scope", "language", "content_kind", "price_model", "page", "per_page"}


def test_the_docs_page_serves(client):
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert b"/api/v1/openapi.json" in page.data
