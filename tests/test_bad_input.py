"""Bad input found by probing a running instance (issue 15): each was a 500; each is a 4xx that
names the problem, and nothing is written."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from marketplace.catalog.models import Dataset, Offer, Record
from marketplace.catalog.record_lines import MAX_TEXT
from marketplace.extensions import db
from marketplace.licensing.models import License
from marketplace.payouts.models import PayoutRun
from tests import factories
from tests.asserts import assert_error
from tests.ledger.test_check import admin_key

PAST_31_BITS = 2147483648            # 2**31: one past PostgreSQL's integer (licenses, offers… keys)
PAST_63_BITS = 9223372036854775808   # 2**63: one past PostgreSQL's bigint
PAST_64_BITS = 18446744073709551616  # 2**64


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("field, value", [
    ("tags", [0, ""]),
    ("languages", [1, "x"]),
    ("tags", [None, "Not A Tag"]),
])
def test_a_list_with_an_item_error_and_a_list_error_is_a_422_naming_the_field(client, platform, field, value):
    before = count(Dataset)
    response = client.post("/api/v1/datasets", json=factories.dataset_body(**{field: value}),
                           headers=platform["headers"])
    body = assert_error(response, 422, field)
    assert field in body["errors"]["json"]
    assert count(Dataset) == before

    slug = factories.create_dataset(client, platform)["slug"]
    response = client.patch(f"/api/v1/datasets/{slug}", json={field: value}, headers=platform["headers"])
    assert field in assert_error(response, 422, field)["errors"]["json"]


def test_a_territory_with_an_item_error_and_a_list_error_is_a_422_naming_territory(client, platform):
    slug = factories.create_dataset(client, platform)["slug"]
    factories.import_records(client, platform, slug, [factories.record(i) for i in range(3)])
    before = count(Offer)
    response = client.post(f"/api/v1/datasets/{slug}/offers", json=factories.offer_body(territory=[1, "x"]),
                           headers=platform["headers"])
    assert "territory" in assert_error(response, 422, "territory")["errors"]["json"]
    assert count(Offer) == before


@pytest.mark.parametrize("huge", [PAST_31_BITS, PAST_63_BITS, PAST_64_BITS])
def test_an_offer_id_past_the_key_column_is_a_422_in_a_body_and_a_404_in_a_path(client, platform, buyer, huge):
    before = count(License)
    response = client.post("/api/v1/licenses", json={"offer_id": huge}, headers=buyer["headers"])
    assert "offer_id" in assert_error(response, 422, "offer_id")["errors"]["json"]
    assert count(License) == before

    assert_error(client.post(f"/api/v1/offers/{huge}/retire", headers=platform["headers"]), 404)
    assert client.get(f"/datasets/any/offers/{huge}/terms.json").status_code == 404
    factories.login(client, platform)
    assert client.post(f"/platform/offers/{huge}/retire").status_code == 404


def test_a_license_id_past_32_bits_in_a_path_is_a_404_and_a_big_id_there_is_looked_up(client, runner, buyer):
    # licenses.id is PostgreSQL's integer: 2**31 was a 500 (integer out of range) there.
    for path in (f"/api/v1/licenses/{PAST_31_BITS}", f"/api/v1/licenses/{PAST_31_BITS}/withdrawals"):
        assert_error(client.get(path, headers=buyer["headers"]), 404)
    # The largest integer reaches the database and is an unknown license.
    assert_error(client.get(f"/api/v1/licenses/{PAST_31_BITS - 1}/downloads", headers=buyer["headers"]), 404)
    # payout_runs.id is a bigint: a number past 32 bits is an unknown run, past 63 bits no route.
    admin = factories.bearer(admin_key(runner))
    assert_error(client.get(f"/api/v1/admin/payout-runs/{PAST_31_BITS}/batch.csv", headers=admin), 404)
    assert_error(client.get(f"/api/v1/admin/payout-runs/{PAST_63_BITS}/batch.csv", headers=admin), 404)


def test_the_openapi_document_bounds_ids_by_their_column(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]

    def maximum(path: str, name: str) -> int:
        parameters = [p for p in paths[path].get("parameters", []) or
                      [p for op in paths[path].values() if isinstance(op, dict) for p in op.get("parameters", [])]
                      if p["name"] == name]
        return parameters[0]["schema"]["maximum"]

    assert maximum("/api/v1/licenses/{license_id}/downloads", "license_id") == PAST_31_BITS - 1
    assert maximum("/api/v1/admin/payout-runs/{run_id}/batch.csv", "run_id") == PAST_63_BITS - 1


def _long_csv(length: int) -> bytes:
    header = "external_id,contributor_external_id,contributor_region,text,created_at\n"
    return (header + f"r1,u1,US,{'x' * length},2024-05-01T12:00:00Z\n").encode()


def _upload(client, slug: str, data: bytes, name: str = "posts.csv"):
    """The web form's multipart upload, encoded here: the test client spools a large one to a
    temporary file that it never closes (a ResourceWarning in a later test)."""
    boundary = "dividend-test-boundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
            f"Content-Type: application/octet-stream\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return client.post(f"/platform/datasets/{slug}/records", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def _records(slug: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Record).join(Dataset).where(Dataset.slug == slug))


def test_a_csv_field_past_the_longest_text_on_the_web_upload_is_a_422_naming_the_line(client, platform):
    slug = factories.create_dataset(client, platform)["slug"]
    factories.login(client, platform)
    for length, named in [(MAX_TEXT + 1, b"At most 1,000,000 characters"), (2 * MAX_TEXT, b"Unreadable CSV")]:
        response = _upload(client, slug, _long_csv(length))
        assert response.status_code == 422, response.data[:300]
        assert b"line 2" in response.data and named in response.data
        assert _records(slug) == 0
    # Python's csv module stopped at 131,072 characters (a 500): such a text is a record now.
    response = _upload(client, slug, _long_csv(131_073))
    assert response.status_code == 302, response.data[:300]
    assert _records(slug) == 1


def test_a_csv_header_past_the_field_limit_or_a_tokens_cell_of_thousands_of_digits_is_a_422(client, platform):
    slug = factories.create_dataset(client, platform)["slug"]
    factories.login(client, platform)
    header = f"external_id,contributor_external_id,contributor_region,text,created_at,{'h' * (2 * MAX_TEXT)}\n"
    response = _upload(client, slug, header.encode())
    assert response.status_code == 422, response.data[:300]
    assert b"line 1" in response.data and b"Unreadable CSV header" in response.data
    digits = "9" * 5_000  # int() refuses more than 4,300 digits (a ValueError, once a 500)
    body = ("external_id,contributor_external_id,contributor_region,text,created_at,tokens\n"
            f"r1,u1,US,hello,2024-05-01T12:00:00Z,{digits}\n")
    response = _upload(client, slug, body.encode())
    assert response.status_code == 422, response.data[:300]
    assert b"line 2" in response.data and b"whole number of tokens" in response.data
    assert _records(slug) == 0


def test_a_results_csv_field_over_131072_characters_is_a_422_naming_the_line(client, runner):
    admin = factories.bearer(admin_key(runner))
    created = client.post("/api/v1/admin/payout-runs", json={}, headers=admin)
    assert created.status_code == 201, created.get_json()
    runs = count(PayoutRun)
    response = client.post(f"/api/v1/admin/payout-runs/{created.get_json()['id']}/results",
                           data=f"1,failed,{'x' * 2_000_000}\n", headers={**admin, "Content-Type": "text/csv"})
    assert_error(response, 422, "line 1")
    assert count(PayoutRun) == runs


def test_an_idempotency_key_over_200_characters_is_a_422_naming_the_header(client, buyer):
    before = count(License)
    response = client.post("/api/v1/licenses", json={"offer_id": 1},
                           headers={**buyer["headers"], "Idempotency-Key": "k" * 201})
    body = assert_error(response, 422, "Idempotency-Key")
    assert "Idempotency-Key" in body["errors"]["headers"]
    assert count(License) == before


def test_the_openapi_document_says_how_long_an_idempotency_key_may_be(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    (header,) = [p for p in spec["paths"]["/api/v1/licenses"]["post"]["parameters"] if p["name"] == "Idempotency-Key"]
    assert header["schema"]["maxLength"] == 200
    assert "422" in spec["paths"]["/api/v1/licenses"]["post"]["responses"]


def test_api_times_are_utc_with_a_z(client, platform):
    import re

    dataset = factories.published_dataset(client, platform)
    body = client.get(f"/api/v1/datasets/{dataset['slug']}", headers=platform["headers"]).get_json()
    stamps = [body["created_at"], body["updated_at"], body["published_at"], body["versions"][0]["created_at"],
              body["offers"][0]["created_at"]]
    for stamp in stamps:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stamp), stamp


def test_the_openapi_document_says_what_a_language_a_tag_and_a_region_must_be(client, platform):
    import re

    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    languages = schemas["DatasetCreate"]["properties"]["languages"]["items"]["pattern"]
    tags = schemas["DatasetCreate"]["properties"]["tags"]["items"]["pattern"]
    assert re.search(languages, "") is None and re.search(languages, "en")
    assert re.search(tags, "") is None and re.search(tags, "forum")
    assert "US" in schemas["OfferCreate"]["properties"]["territory"]["items"]["enum"]
    # What the document refuses, the validators refuse.
    for field, value in [("languages", [""]), ("tags", [""])]:
        response = client.post("/api/v1/datasets", json=factories.dataset_body(**{field: value}),
                               headers=platform["headers"])
        assert_error(response, 422, field)
