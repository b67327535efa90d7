"""Request bodies: 1 MiB everywhere but the imports, which stream up to MAX_IMPORT_LENGTH; past a
limit, a 413 in the API's error shape (the HTML error page for pages). Import lines and fields
have limits of their own, each a 422 naming the line."""
from __future__ import annotations

import orjson
import pytest
from sqlalchemy import func, select

from marketplace.catalog.models import Dataset, Record
from marketplace.catalog.record_lines import MAX_TEXT
from marketplace.extensions import db
from marketplace.line_reader import MAX_LINE_BYTES
from tests import factories
from tests.asserts import assert_error

MIB = 1024 * 1024


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def import_body(client, owner, slug: str, body: bytes, path: str = "records"):
    return client.post(f"/api/v1/datasets/{slug}/{path}", data=body,
                       headers={**owner["headers"], "Content-Type": "application/x-ndjson"})


def test_the_default_limit_is_one_mib_and_imports_get_512(app):
    assert app.config["MAX_CONTENT_LENGTH"] == MIB
    assert app.config["MAX_IMPORT_LENGTH"] == 512 * MIB


def test_a_json_body_over_one_mib_is_a_413_in_the_error_shape_and_writes_nothing(client, platform):
    before = count(Dataset)
    body = factories.dataset_body(description="x" * MIB)
    response = client.post("/api/v1/datasets", data=orjson.dumps(body),
                           headers={**platform["headers"], "Content-Type": "application/json"})
    assert_error(response, 413)
    assert count(Dataset) == before
    # Under the limit, the same request is judged on its content (the description is too long).
    body["description"] = "x" * 30_000
    assert_error(client.post("/api/v1/datasets", json=body, headers=platform["headers"]), 422, "description")


def test_a_form_over_one_mib_is_a_413_page(client, platform):
    factories.login(client, platform)
    before = count(Dataset)
    response = client.post("/platform/datasets/new", data={**factories.dataset_body(), "languages": "en",
                                                           "tags": "", "description": "x" * MIB})
    assert response.status_code == 413
    assert response.mimetype == "text/html" and b"413" in response.data
    assert count(Dataset) == before


def test_an_import_takes_more_than_one_mib_and_stops_at_its_own_limit(app, client, platform):
    slug = factories.create_dataset(client, platform)["slug"]
    lines = [factories.record(i, text="word " * 1000) for i in range(300)]
    body = factories.ndjson(lines)
    assert len(body) > 1.4 * MIB
    assert import_body(client, platform, slug, body).get_json() == {"created": 300, "updated": 0}

    limit = app.config["MAX_IMPORT_LENGTH"]
    app.config["MAX_IMPORT_LENGTH"] = 2 * MIB
    try:
        more = factories.ndjson([factories.record(i + 300, text="word " * 2000) for i in range(300)])
        assert len(more) > 2 * MIB
        assert_error(import_body(client, platform, slug, more), 413)
    finally:
        app.config["MAX_IMPORT_LENGTH"] = limit
    assert db.session.scalar(select(func.count()).select_from(Record).join(Dataset).where(
        Dataset.slug == slug)) == 300


def test_the_consent_import_and_the_web_upload_take_more_than_one_mib(client, platform):
    from tests.test_bad_input import _upload

    slug = factories.create_dataset(client, platform)["slug"]
    consent = b"".join(orjson.dumps({"contributor": f"u{i}", "dataset": None, "scope": "ai-train",
                                     "status": "granted", "pad": "x" * 200}) + b"\n" for i in range(6000))
    assert len(consent) > MIB
    response = client.post("/api/v1/consents/import?source=survey", data=consent,
                           headers={**platform["headers"], "Content-Type": "application/x-ndjson"})
    assert response.status_code != 413, response.get_json()

    factories.login(client, platform)
    upload = factories.ndjson([factories.record(i, text="word " * 1000) for i in range(300)])
    assert len(upload) > MIB
    assert _upload(client, slug, upload, name="posts.ndjson").status_code == 302


def test_a_line_over_the_line_limit_is_a_422_naming_it_and_the_next_lines_are_still_read(client, platform):
    slug = factories.create_dataset(client, platform)["slug"]
    huge = orjson.dumps(factories.record(2, text="x" * MAX_LINE_BYTES)) + b"\n"
    body = factories.ndjson([factories.record(1)]) + huge + factories.ndjson([{"external_id": 3}])
    response = import_body(client, platform, slug, body)
    errors = assert_error(response, 422, "line 2", f"{MAX_LINE_BYTES:,} bytes")["errors"]["lines"]
    assert [(e["line"], e["field"]) for e in errors] == [(2, None), (3, "external_id")]
    assert db.session.scalar(select(func.count()).select_from(Record).join(Dataset).where(
        Dataset.slug == slug)) == 0


@pytest.mark.parametrize("path", ["records", "consents"])
def test_a_last_line_over_the_limit_without_a_newline_is_named(client, platform, path):
    slug = factories.create_dataset(client, platform)["slug"]
    if path == "consents":
        body = orjson.dumps({"contributor": "u1", "scope": "ai-train", "status": "granted"}) + b"\n"
    else:
        body = factories.ndjson([factories.record(1)])
    body += b'{"text": "' + b"x" * MAX_LINE_BYTES + b'"}'
    if path == "consents":
        response = client.post("/api/v1/consents/import?source=survey", data=body,
                               headers={**platform["headers"], "Content-Type": "application/x-ndjson"})
        lines = assert_error(response, 422)["errors"]["lines"]
        assert {"line": 2, "field": None, "message": f"The line is longer than {MAX_LINE_BYTES:,} bytes."} in lines
    else:
        assert_error(import_body(client, platform, slug, body), 422, "line 2", "bytes")


def test_a_text_over_a_million_characters_is_a_422_naming_the_line_and_field(client, platform):
    slug = factories.create_dataset(client, platform)["slug"]
    body = factories.ndjson([factories.record(1), factories.record(2, text="y" * (MAX_TEXT + 1))])
    errors = assert_error(import_body(client, platform, slug, body), 422, "line 2", "text")["errors"]["lines"]
    assert errors == [{"line": 2, "field": "text",
                       "message": f"At most 1,000,000 characters; this one has {MAX_TEXT + 1:,}."}]
    exactly = factories.ndjson([factories.record(1, text="y" * MAX_TEXT)])
    assert import_body(client, platform, slug, exactly).get_json() == {"created": 1, "updated": 0}


def test_every_operation_that_takes_a_body_documents_the_413(client):
    document = client.get("/api/v1/openapi.json").get_json()
    with_body = {(path, method): operation["responses"]
                 for path, operations in document["paths"].items()
                 for method, operation in operations.items() if "requestBody" in operation}
    assert ("/api/v1/datasets", "post") in with_body and len(with_body) >= 15
    assert [where for where, responses in with_body.items() if "413" not in responses] == []
    assert "512 MiB" in with_body[("/api/v1/datasets/{slug}/records", "post")]["413"]["description"]
