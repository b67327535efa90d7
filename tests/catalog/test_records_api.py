"""POST /api/v1/datasets/{slug}/records: NDJSON upserts, exact counts, atomic on any bad line."""
from __future__ import annotations

from datetime import datetime

import orjson
import pytest

from tests import factories
from tests.asserts import assert_error
from tests.catalog.helpers import contributor_count, record_count, stored_records


def post(client, owner, slug, body: bytes):
    return client.post(f"/api/v1/datasets/{slug}/records", data=body,
                       headers={**owner["headers"], "Content-Type": "application/x-ndjson"})


@pytest.fixture
def slug(client, platform):
    return factories.create_dataset(client, platform, slug="forum-2024")["slug"]


def test_new_lines_are_created_and_known_ones_updated(client, platform, slug):
    first = factories.import_records(client, platform, slug, [factories.record(i) for i in range(5)])
    assert first == {"created": 5, "updated": 0}
    again = factories.import_records(client, platform, slug, [factories.record(i) for i in range(3, 8)])
    assert again == {"created": 3, "updated": 2}  # r3, r4 again (unchanged still counts); r5..r7 new
    assert record_count(slug) == 8


def test_a_repeated_id_within_one_file_counts_as_updated_and_the_last_wins(client, platform, slug):
    lines = [factories.record(1, text="first words"), factories.record(2),
             factories.record(1, text="second and last words"), factories.record(1, text="third")]
    assert factories.import_records(client, platform, slug, lines) == {"created": 2, "updated": 2}
    assert record_count(slug) == 2
    assert stored_records(slug)["r1"]["text"] == "third"


def test_what_is_stored(client, platform, slug):
    lines = [
        {"external_id": "a/1", "contributor": {"external_id": "ann", "region": "fr"},
         "text": "  Bonjour   tout\tle\nmonde  ", "created_at": "2024-03-01T10:00:00+02:00"},
        {"external_id": "b", "contributor": {"external_id": "bo", "region": "US"},
         "text": "explicit tokens", "created_at": "2024-03-01T10:00:00.250Z", "tokens": 42},
        {"external_id": "c", "contributor": {"external_id": "bo", "region": "US"},
         "text": "zero", "created_at": "2024-03-01T10:00:00", "tokens": 0},
        {"external_id": "ü-ß", "contributor": {"external_id": "cy", "region": "KR"},
         "text": "naïve café ünïcode", "created_at": "2024-03-01"},
    ]
    factories.import_records(client, platform, slug, lines)
    stored = stored_records(slug)
    assert stored == {
        "a/1": {"contributor": "ann", "region": "FR", "text": "  Bonjour   tout\tle\nmonde  ",
                "created_at": datetime(2024, 3, 1, 8, 0), "tokens": 4, "taken_down": False},
        "b": {"contributor": "bo", "region": "US", "text": "explicit tokens",
              "created_at": datetime(2024, 3, 1, 10, 0, 0, 250_000), "tokens": 42, "taken_down": False},
        "c": {"contributor": "bo", "region": "US", "text": "zero",
              "created_at": datetime(2024, 3, 1, 10, 0), "tokens": 0, "taken_down": False},
        "ü-ß": {"contributor": "cy", "region": "KR", "text": "naïve café ünïcode",
                "created_at": datetime(2024, 3, 1), "tokens": 3, "taken_down": False},
    }
    assert contributor_count(platform["id"]) == 3


def test_an_update_replaces_every_field_and_a_contributor_can_move(client, platform, slug):
    factories.import_records(client, platform, slug, [factories.record(1, contributor="ann", region="US")])
    factories.import_records(client, platform, slug, [
        factories.record(1, contributor="ann", region="GB", text="rewritten", created_at="2025-01-02T03:04:05Z")])
    assert stored_records(slug)["r1"] == {"contributor": "ann", "region": "GB", "text": "rewritten",
                                          "created_at": datetime(2025, 1, 2, 3, 4, 5), "tokens": 1,
                                          "taken_down": False}
    assert contributor_count(platform["id"]) == 1


def test_contributors_belong_to_their_platform(client, platform, other_platform, slug):
    other_slug = factories.create_dataset(client, other_platform)["slug"]
    factories.import_records(client, platform, slug, [factories.record(1, contributor="same-name")])
    factories.import_records(client, other_platform, other_slug, [factories.record(1, contributor="same-name")])
    assert (contributor_count(platform["id"]), contributor_count(other_platform["id"])) == (1, 1)
    # The same external id in two datasets is two records.
    assert (record_count(slug), record_count(other_slug)) == (1, 1)


def test_line_endings_and_blank_lines_are_tolerated(client, platform, slug):
    body = (b"\n" + orjson.dumps(factories.record(1)) + b"\r\n\r\n  \n"
            + orjson.dumps(factories.record(2)))  # no newline at the end
    response = post(client, platform, slug, body)
    assert (response.status_code, response.get_json()) == (200, {"created": 2, "updated": 0})


# ---- atomic refusal --------------------------------------------------------------------------

GOOD = factories.record(0)
BAD_LINES = [
    (b"[1, 2]", None, "Each line must be a JSON object."),
    (b'"text"', None, "Each line must be a JSON object."),
    (b'{"external_id": "x", ', None, "Not valid JSON."),
    (b"\xff\xfe{}", None, "Not valid JSON."),
    ({**GOOD, "external_id": None}, "external_id", "Give a string of 1 to 200 characters."),
    ({**GOOD, "external_id": ""}, "external_id", "Give a string of 1 to 200 characters."),
    ({**GOOD, "external_id": "x" * 201}, "external_id", "Give a string of 1 to 200 characters."),
    ({**GOOD, "external_id": 42}, "external_id", "Give a string of 1 to 200 characters."),
    ({k: v for k, v in GOOD.items() if k != "contributor"}, "contributor", "Give an object {external_id, region}."),
    ({**GOOD, "contributor": "u1"}, "contributor", "Give an object {external_id, region}."),
    ({**GOOD, "contributor": {"region": "US"}}, "contributor.external_id", "Give a string of 1 to 200 characters."),
    ({**GOOD, "contributor": {"external_id": 7, "region": "US"}}, "contributor.external_id",
     "Give a string of 1 to 200 characters."),
    ({**GOOD, "contributor": {"external_id": "u1"}}, "contributor.region",
     "Unknown region code None: use ISO 3166-1 alpha-2."),
    ({**GOOD, "contributor": {"external_id": "u1", "region": "XX"}}, "contributor.region",
     "Unknown region code 'XX': use ISO 3166-1 alpha-2."),
    ({**GOOD, "contributor": {"external_id": "u1", "region": "USA"}}, "contributor.region",
     "Unknown region code 'USA': use ISO 3166-1 alpha-2."),
    ({**GOOD, "contributor": {"external_id": "u1", "region": 1}}, "contributor.region",
     "Unknown region code 1: use ISO 3166-1 alpha-2."),
    ({k: v for k, v in GOOD.items() if k != "text"}, "text", "Missing text."),
    ({**GOOD, "text": ""}, "text", "Missing text."),
    ({**GOOD, "text": " \t\n "}, "text", "Give non-empty text."),
    ({**GOOD, "text": ["words"]}, "text", "Give non-empty text."),
    ({k: v for k, v in GOOD.items() if k != "created_at"}, "created_at",
     "Give an ISO 8601 timestamp, like 2024-05-01T12:00:00Z."),
    ({**GOOD, "created_at": 1714564800}, "created_at", "Give an ISO 8601 timestamp, like 2024-05-01T12:00:00Z."),
    ({**GOOD, "created_at": "yesterday"}, "created_at", "Bad timestamp 'yesterday': use ISO 8601."),
    ({**GOOD, "created_at": "2024-02-30T00:00:00Z"}, "created_at",
     "Bad timestamp '2024-02-30T00:00:00Z': use ISO 8601."),
    ({**GOOD, "created_at": ""}, "created_at", "Bad timestamp '': use ISO 8601."),
    ({**GOOD, "tokens": "5"}, "tokens", "Give a whole number of tokens, 0 or more."),
    ({**GOOD, "tokens": 2.5}, "tokens", "Give a whole number of tokens, 0 or more."),
    ({**GOOD, "tokens": True}, "tokens", "Give a whole number of tokens, 0 or more."),
    ({**GOOD, "tokens": -1}, "tokens", "Give a whole number of tokens, 0 or more."),
    ({**GOOD, "tokens": 2**31}, "tokens", "Give a whole number of tokens, 0 or more."),
]


def raw(line) -> bytes:
    return line if isinstance(line, bytes) else orjson.dumps(line)


@pytest.mark.parametrize(("bad", "field", "message"), BAD_LINES)
def test_one_bad_line_is_named_and_the_dataset_is_unchanged(client, platform, slug, bad, field, message):
    factories.import_records(client, platform, slug, [factories.record(i) for i in range(3)])
    assert client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"]).status_code == 201
    before = stored_records(slug)
    contributors = contributor_count(platform["id"])
    # Good lines on both sides: an update of r1, new records, a new contributor.
    lines = [raw(factories.record(1, text="changed text")), raw(factories.record(10, contributor="newcomer")),
             raw(bad), raw(factories.record(11))]
    response = post(client, platform, slug, b"\n".join(lines) + b"\n")
    body = assert_error(response, 422, "line 3")
    assert body["errors"] == {"lines": [{"line": 3, "field": field, "message": message}]}
    where = f"line 3, {field}" if field else "line 3"
    assert body["message"] == f"1 bad line(s); nothing was imported. First: {where}: {message}"
    assert stored_records(slug) == before
    assert contributor_count(platform["id"]) == contributors
    # Nothing changed since 1.0.0, so nothing can be frozen.
    assert_error(client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"]), 409,
                 "Nothing changed since version 1.0.0")


def test_every_bad_line_is_listed_in_order_counting_blank_lines(client, platform, slug):
    body = b"\n".join([
        raw(factories.record(1)),
        b"",
        raw({**factories.record(2), "text": ""}),
        raw(factories.record(3)),
        b"{oops",
        raw({**factories.record(4), "contributor": {"external_id": "u", "region": "ZZ"}}),
    ])
    response = post(client, platform, slug, body)
    assert assert_error(response, 422)["errors"]["lines"] == [
        {"line": 3, "field": "text", "message": "Missing text."},
        {"line": 5, "field": None, "message": "Not valid JSON."},
        {"line": 6, "field": "contributor.region", "message": "Unknown region code 'ZZ': use ISO 3166-1 alpha-2."},
    ]
    assert response.get_json()["message"].startswith("3 bad line(s); nothing was imported. First: line 3, text:")
    assert record_count(slug) == 0


@pytest.mark.parametrize(("bad", "listed", "count"), [(100, 100, "100 bad line(s); nothing"),
                                                      (101, 100, "100+ bad line(s) (only the first 100 are listed)")])
def test_up_to_100_bad_lines_are_listed(client, platform, slug, bad, listed, count):
    lines = [factories.record(i) for i in range(150)]
    for i in range(bad):
        lines[i + 20] = {**lines[i + 20], "text": ""}
    body = assert_error(post(client, platform, slug, factories.ndjson(lines)), 422)
    assert [item["line"] for item in body["errors"]["lines"]] == list(range(21, 21 + listed))
    assert body["message"].startswith(count)
    assert record_count(slug) == 0


@pytest.mark.parametrize("body", [b"", b"\n", b"\n \r\n\t\n"])
def test_an_empty_body_is_a_422(client, platform, slug, body):
    response = assert_error(post(client, platform, slug, body), 422)
    assert response["message"] == "The file holds no records."
    assert response["errors"] == {"json": {"body": ["No records found."]}}


def test_a_body_over_the_size_limit_is_a_413_and_writes_nothing(app, client, platform, slug):
    limit = app.config["MAX_IMPORT_LENGTH"]
    body = factories.ndjson([factories.record(i) for i in range(50)])
    app.config["MAX_IMPORT_LENGTH"] = len(body) - 1
    try:
        assert_error(post(client, platform, slug, body), 413)
        assert record_count(slug) == 0
        # At the limit exactly, it goes in.
        app.config["MAX_IMPORT_LENGTH"] = len(body)
        assert post(client, platform, slug, body).get_json() == {"created": 50, "updated": 0}
    finally:
        app.config["MAX_IMPORT_LENGTH"] = limit


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_timestamp_out_of_range_in_utc_is_a_bad_line(client, platform, slug, moment):
    response = post(client, platform, slug, factories.ndjson([factories.record(1, created_at=moment)]))
    assert assert_error(response, 422)["errors"]["lines"][0]["field"] == "created_at"


@pytest.mark.parametrize("change", [{"text": "a\x00b"}, {"external_id": "r\x00"},
                                    {"contributor": {"external_id": "u\x00", "region": "US"}}])
def test_nul_characters_are_a_bad_line(client, platform, slug, change):
    response = post(client, platform, slug, factories.ndjson([{**factories.record(1), **change}]))
    assert assert_error(response, 422)["errors"]["lines"][0]["line"] == 1
    assert record_count(slug) == 0
