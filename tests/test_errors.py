"""API.md's error shape on every error, JSON for /api and /webhooks, a page for everything else."""
from __future__ import annotations

import pytest

from tests import factories
from tests.asserts import assert_error

MALFORMED = "Malformed request body: it is not valid JSON."


@pytest.mark.parametrize(("method", "url", "keyed"), [
    ("post", "/api/v1/organizations", False),
    ("post", "/api/v1/datasets", True),
    ("patch", "/api/v1/datasets/forum-2024", True),
    ("post", "/api/v1/datasets/forum-2024/offers", True),
    ("post", "/api/v1/api-keys", True),
])
@pytest.mark.parametrize("body", ['{"kind": "buyer",', "{'single': 'quotes'}", "nul\x00", "[1, 2"])
def test_a_malformed_json_body_is_a_400_saying_so(client, platform, method, url, keyed, body):
    factories.create_dataset(client, platform, slug="forum-2024")
    headers = platform["headers"] if keyed else {}
    response = getattr(client, method)(url, data=body, content_type="application/json", headers=headers)
    assert assert_error(response, 400)["message"] == MALFORMED
    assert client.get("/api/v1/datasets/forum-2024", headers=platform["headers"]).get_json()["title"] == \
        "Forum posts 2024"


def test_a_body_that_is_not_an_object_is_a_422(client, platform):
    for body in ([], "text", 7, True):
        response = client.post("/api/v1/datasets", json=body, headers=platform["headers"])
        assert assert_error(response, 422)["errors"]["json"] == {"_schema": ["Invalid input type."]}


@pytest.mark.parametrize("url", ["/api/v1/nothing-here", "/api/v1/datasets/x/y/z", "/api/nothing", "/webhooks/nope"])
def test_an_unknown_api_route_is_a_json_404(client, url):
    response = client.get(url)
    assert response.mimetype == "application/json"
    assert_error(response, 404)


def test_a_wrong_method_is_a_json_405_with_allow(client):
    response = client.put("/api/v1/datasets")
    assert_error(response, 405)
    assert set(response.headers["Allow"].split(", ")) == {"GET", "POST", "HEAD", "OPTIONS"}
    assert client.delete("/api/v1/organizations").status_code == 405


def test_web_errors_are_pages(client):
    response = client.get("/nothing-here")
    assert response.status_code == 404 and response.mimetype == "text/html"
    assert b"<html" in response.data and b"404 \xc2\xb7 Not Found" in response.data
    assert b"Browse the catalog" in response.data
    assert client.get("/logout").mimetype == "text/html"


def test_a_web_client_asking_for_json_gets_json(client):
    response = client.get("/nothing-here", headers={"Accept": "application/json"})
    assert response.mimetype == "application/json"
    assert_error(response, 404)


def test_every_documented_error_status_has_the_shape(app, client, platform, other_platform, buyer, rate_limited):
    """One of each: 400, 401, 403, 404, 409, 413, 422, 429 all carry code, status and message."""
    slug = factories.create_dataset(client, platform, slug="forum-2024")["slug"]
    assert_error(client.post("/api/v1/datasets", data="{", content_type="application/json",
                             headers=platform["headers"]), 400)
    assert_error(client.get("/api/v1/api-keys"), 401)
    assert_error(client.post("/api/v1/datasets", json=factories.dataset_body(), headers=buyer["headers"]), 403)
    assert_error(client.get(f"/api/v1/datasets/{slug}", headers=other_platform["headers"]), 404)
    assert_error(client.post("/api/v1/datasets", json=factories.dataset_body(slug=slug),
                             headers=platform["headers"]), 409)
    assert_error(client.post("/api/v1/datasets", json={}, headers=platform["headers"]), 422)
    limit = app.config["MAX_IMPORT_LENGTH"]
    app.config["MAX_IMPORT_LENGTH"] = 10
    try:
        assert_error(client.post(f"/api/v1/datasets/{slug}/records", data=b"x" * 11, headers=platform["headers"]),
                     413)
    finally:
        app.config["MAX_IMPORT_LENGTH"] = limit
    for _ in range(20):
        client.post("/api/v1/organizations", json={}, headers=rate_limited)
    assert_error(client.post("/api/v1/organizations", json={}, headers=rate_limited), 429)


@pytest.mark.parametrize(("method", "url", "kwargs", "status"), [
    ("get", "/api/v1/datasets/bad%00slug", {}, 404),
    ("patch", "/api/v1/datasets/bad%00slug", {"json": {}}, 404),
    ("delete", "/api/v1/datasets/forum-2024/records/r%00", {}, 404),
    ("get", "/datasets/bad%00slug", {}, 404),
    ("get", "/api/v1/datasets", {"query_string": {"q": "nul\x00word"}}, 422),
    ("get", "/api/v1/datasets", {"query_string": {"language": "e\x00"}}, 422),
    ("post", "/api/v1/datasets", {"json": factories.dataset_body(title="Nul\x00title")}, 422),
    ("post", "/api/v1/datasets", {"json": factories.dataset_body(slug="nul\x00")}, 422),
    ("patch", "/api/v1/datasets/forum-2024", {"json": {"summary": "\x00"}}, 422),
    ("post", "/api/v1/datasets/forum-2024/offers", {"json": factories.offer_body(name="Nul\x00")}, 422),
    ("post", "/api/v1/organizations", {"json": {"kind": "buyer", "name": "Nul\x00Lab", "owner": {
        "email": "nul@lab.example.test", "password": "long enough"}}}, 422),
    ("post", "/api/v1/api-keys", {"json": {"label": "nul\x00"}}, 422),
    ("post", "/login", {"data": {"email": "a\x00@example.test", "password": "whatever it is"}}, 422),
])
def test_nul_characters_are_bad_input_not_a_500(client, platform, method, url, kwargs, status):
    """PostgreSQL can't store or even compare NUL in text: it is refused before the database."""
    factories.create_dataset(client, platform, slug="forum-2024")
    response = getattr(client, method)(url, headers=platform["headers"], **kwargs)
    assert response.status_code == status, response.data[:300]


def test_a_missing_page_says_what_happened_and_where_to_go(client):
    response = client.get("/datasets/no-such-dataset-here")
    assert response.status_code == 404 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "There is nothing here" in page
    assert "<code>/datasets/no-such-dataset-here</code>" in page  # what was asked for
    assert 'action="/datasets"' in page and 'type="search"' in page  # a search of the catalog
    assert 'href="/login?next=/datasets/no-such-dataset-here"' in page  # a private page: log in
    assert 'href="/claim"' in page and 'href="/"' in page


def test_a_missing_page_for_a_logged_in_platform_leads_to_its_datasets(client, platform):
    client.post("/login", data={"email": platform["email"], "password": platform["password"]})
    page = client.get("/nothing-here").get_data(as_text=True)
    assert 'href="/platform/datasets">Your datasets' in page
    assert "log in</a> and open it again" not in page


def test_a_missing_api_resource_is_the_json_error_shape(client):
    response = client.get("/api/v1/datasets/no-such-dataset-here")
    assert_error(response, 404)
    assert set(response.get_json()) == {"code", "status", "message"}


@pytest.fixture
def broken_catalog(monkeypatch):
    """The catalog's search fails unexpectedly (a bug, a lost database connection)."""
    def fail(*args, **kwargs):
        raise RuntimeError("the catalog's search broke")

    monkeypatch.setattr("marketplace.catalog.search.catalog_statement", fail)


def test_an_unexpected_failure_is_a_500_page_that_helps(client, broken_catalog, caplog):
    response = client.get("/datasets?q=bikes")
    assert response.status_code == 500 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Something went wrong on our side" in page and "Nothing was changed." in page
    assert "the catalog's search broke" not in page  # no internals shown
    reference = page.split("Reference: ", 1)[1][:12]
    assert len(reference) == 12 and int(reference, 16) >= 0
    assert f"Unhandled error {reference} on GET /datasets" in caplog.text  # the log has the reference
    assert 'href="/datasets">Browse the catalog' in page


def test_an_unexpected_failure_in_the_api_is_the_json_error_shape(client, broken_catalog):
    response = client.get("/api/v1/datasets")
    assert_error(response, 500)
    body = response.get_json()
    assert set(body) == {"code", "status", "message"}
    assert body["status"] == "Internal Server Error"
    assert body["message"].startswith("Something went wrong on our side. Nothing was changed. Reference: ")
