"""Versions: semver by what changed, exact counts and weights, a stable sha256; take-downs."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests import factories
from tests.asserts import assert_error
from tests.catalog.helpers import canonical_sha256, record_count, stored_records, version_weights


@pytest.fixture
def slug(client, platform):
    return factories.create_dataset(client, platform, slug="forum-2024")["slug"]


def freeze(client, owner, slug, status=201) -> dict:
    response = client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=owner["headers"])
    assert response.status_code == status, response.get_json()
    return response.get_json()


def line(external_id, contributor, text, created_at="2024-05-01T12:00:00Z", region="US", **extra) -> dict:
    return {"external_id": external_id, "contributor": {"external_id": contributor, "region": region},
            "text": text, "created_at": created_at, **extra}


LINES = [
    line("p1", "ann", "one two three", "2024-01-05T08:00:00Z"),
    line("p2", "ann", "four five", "2024-02-01T00:00:00+01:00"),
    line("p3", "bo", "six", "2023-12-31T23:59:59.5Z", region="FR"),
    line("p4", "cy", "seven eight nine ten", "2024-06-30T12:00:00Z", tokens=100),
    line("Z9", "bo", "uppercase sorts first", "2024-03-03T03:03:03Z", region="FR"),
    line("é1", "dee", "non-ascii sorts last", "2024-04-04T04:04:04Z", region="KR"),
]


def test_the_first_version_freezes_exact_counts_weights_and_hash(client, platform, slug):
    factories.import_records(client, platform, slug, LINES)
    version = freeze(client, platform, slug)
    created_at = version.pop("created_at")
    assert created_at
    assert version == {
        "number": "1.0.0",
        "record_count": 6,
        "token_count": 3 + 2 + 1 + 100 + 3 + 3,
        "contributor_count": 4,
        "sha256": canonical_sha256(LINES),
        "first_record_at": "2023-12-31T23:59:59.500000Z",
        "last_record_at": "2024-06-30T12:00:00.000000Z",
    }
    assert version_weights(slug, "1.0.0") == {"ann": (2, 5), "bo": (2, 4), "cy": (1, 100), "dee": (1, 3)}
    listed = client.get(f"/api/v1/datasets/{slug}", headers=platform["headers"]).get_json()
    assert listed["versions"] == [{**version, "created_at": created_at}]
    assert listed["counts"] == {"records": 6, "tokens": 112, "contributors": 4}


def test_the_hash_depends_on_content_not_on_import_order_or_dataset(client, platform, slug):
    factories.import_records(client, platform, slug, LINES)
    other = factories.create_dataset(client, platform, slug="forum-copy")["slug"]
    factories.import_records(client, platform, other, list(reversed(LINES[3:])))
    factories.import_records(client, platform, other, list(reversed(LINES[:3])))
    assert freeze(client, platform, slug)["sha256"] == freeze(client, platform, other)["sha256"]
    third = factories.create_dataset(client, platform, slug="forum-edited")["slug"]
    factories.import_records(client, platform, third, [*LINES[:-1], {**LINES[-1], "text": "non-ascii sorts last!"}])
    assert freeze(client, platform, third)["sha256"] != canonical_sha256(LINES)


def test_semver_minor_for_additions_major_for_changes_and_removals(client, platform, slug):
    factories.import_records(client, platform, slug, [factories.record(i) for i in range(4)])
    numbers = [freeze(client, platform, slug)["number"]]
    factories.import_records(client, platform, slug, [factories.record(4)])
    numbers.append(freeze(client, platform, slug)["number"])
    factories.import_records(client, platform, slug, [factories.record(5), factories.record(6)])
    numbers.append(freeze(client, platform, slug)["number"])
    factories.import_records(client, platform, slug, [factories.record(0, text="edited")])
    numbers.append(freeze(client, platform, slug)["number"])
    factories.import_records(client, platform, slug, [factories.record(7)])
    numbers.append(freeze(client, platform, slug)["number"])
    client.delete(f"/api/v1/datasets/{slug}/records/r7", headers=platform["headers"])
    numbers.append(freeze(client, platform, slug)["number"])
    assert numbers == ["1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.1.0", "3.0.0"]
    listed = client.get(f"/api/v1/datasets/{slug}", headers=platform["headers"]).get_json()["versions"]
    assert [v["number"] for v in listed] == list(reversed(numbers))
    assert [v["record_count"] for v in listed] == [7, 8, 7, 7, 5, 4]


@pytest.mark.parametrize("change", [
    {"text": "other words"},
    {"tokens": 99},
    {"created_at": "2024-05-01T12:00:01Z"},
    {"contributor": {"external_id": "someone-else", "region": "US"}},
])
def test_changing_any_field_of_a_frozen_record_is_a_major_bump(client, platform, slug, change):
    factories.import_records(client, platform, slug, [factories.record(1, contributor="u1"), factories.record(2)])
    freeze(client, platform, slug)
    factories.import_records(client, platform, slug, [{**factories.record(1, contributor="u1"), **change}])
    assert freeze(client, platform, slug)["number"] == "2.0.0"


def test_a_change_and_an_addition_together_are_a_major_bump(client, platform, slug):
    factories.import_records(client, platform, slug, [factories.record(1)])
    freeze(client, platform, slug)
    factories.import_records(client, platform, slug, [factories.record(1, text="changed"), factories.record(2)])
    assert freeze(client, platform, slug)["number"] == "2.0.0"


def test_a_moved_contributor_region_alone_changes_no_record(client, platform, slug):
    factories.import_records(client, platform, slug, [factories.record(1, contributor="ann", region="US")])
    freeze(client, platform, slug)
    factories.import_records(client, platform, slug, [factories.record(1, contributor="ann", region="DE")])
    assert_error(client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"]), 409)


def test_nothing_to_freeze_is_a_409(client, platform, slug):
    body = assert_error(client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"]), 409)
    assert body["message"] == "The dataset has no live records to freeze; import records first."
    factories.import_records(client, platform, slug, [factories.record(i) for i in range(3)])
    freeze(client, platform, slug)
    body = assert_error(client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"]), 409)
    assert body["message"] == "Nothing changed since version 1.0.0; import records first."
    # Importing the same lines again counts them as updated but changes nothing.
    assert factories.import_records(client, platform, slug, [factories.record(i) for i in range(3)]) == \
        {"created": 0, "updated": 3}
    assert_error(client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"]), 409,
                 "Nothing changed since version 1.0.0")


def test_a_record_added_and_taken_down_between_versions_changes_nothing(client, platform, slug):
    factories.import_records(client, platform, slug, [factories.record(1)])
    freeze(client, platform, slug)
    factories.import_records(client, platform, slug, [factories.record(2)])
    assert client.delete(f"/api/v1/datasets/{slug}/records/r2", headers=platform["headers"]).status_code == 204
    assert_error(client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"]), 409,
                 "Nothing changed")


# ---- take-down ------------------------------------------------------------------------------


def test_a_taken_down_record_leaves_the_next_version(client, platform, slug):
    factories.import_records(client, platform, slug, LINES)
    first = freeze(client, platform, slug)
    response = client.delete(f"/api/v1/datasets/{slug}/records/p4", headers=platform["headers"])
    assert (response.status_code, response.data) == (204, b"")
    second = freeze(client, platform, slug)
    remaining = [item for item in LINES if item["external_id"] != "p4"]
    assert (second["number"], second["record_count"], second["token_count"], second["contributor_count"]) == \
        ("2.0.0", 5, 12, 3)
    assert second["sha256"] == canonical_sha256(remaining) != first["sha256"]
    assert second["last_record_at"] == "2024-04-04T04:04:04.000000Z"
    assert version_weights(slug, "2.0.0") == {"ann": (2, 5), "bo": (2, 4), "dee": (1, 3)}
    # The first version keeps what it froze.
    assert version_weights(slug, "1.0.0")["cy"] == (1, 100)
    # The record is kept, marked, not deleted.
    assert stored_records(slug)["p4"]["taken_down"] is True and record_count(slug) == 6


def test_taking_down_twice_is_harmless_and_an_unknown_record_is_a_404(client, platform, slug):
    factories.import_records(client, platform, slug, [factories.record(1), factories.record(2)])
    freeze(client, platform, slug)
    for _ in range(2):
        assert client.delete(f"/api/v1/datasets/{slug}/records/r1", headers=platform["headers"]).status_code == 204
    assert freeze(client, platform, slug)["number"] == "2.0.0"
    body = assert_error(client.delete(f"/api/v1/datasets/{slug}/records/nope", headers=platform["headers"]), 404)
    assert body["message"] == "No record 'nope' in 'forum-2024'."
    assert_error(client.delete(f"/api/v1/datasets/{slug}/records/r%00", headers=platform["headers"]), 404)


def test_an_external_id_with_a_slash_can_be_taken_down(client, platform, slug):
    factories.import_records(client, platform, slug, [factories.record(1, external_id="thread/7/post 3")])
    response = client.delete(f"/api/v1/datasets/{slug}/records/thread/7/post%203", headers=platform["headers"])
    assert response.status_code == 204
    assert stored_records(slug)["thread/7/post 3"]["taken_down"] is True


def test_when_every_record_is_down_there_is_nothing_to_freeze(client, platform, slug):
    factories.import_records(client, platform, slug, [factories.record(1)])
    freeze(client, platform, slug)
    client.delete(f"/api/v1/datasets/{slug}/records/r1", headers=platform["headers"])
    body = assert_error(client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"]), 409)
    assert body["message"] == "The dataset has no live records to freeze; import records first."
    versions = client.get(f"/api/v1/datasets/{slug}", headers=platform["headers"]).get_json()["versions"]
    assert [v["number"] for v in versions] == ["1.0.0"]


def test_another_platform_cannot_take_my_record_down(client, platform, other_platform, slug):
    factories.import_records(client, platform, slug, [factories.record(1)])
    assert_error(client.delete(f"/api/v1/datasets/{slug}/records/r1", headers=other_platform["headers"]), 404)
    assert stored_records(slug)["r1"]["taken_down"] is False


def test_version_times_are_utc(client, platform, slug):
    factories.import_records(client, platform, slug, [line("x", "ann", "w", "2024-01-01T00:30:00+05:00")])
    version = freeze(client, platform, slug)
    assert version["first_record_at"] == "2023-12-31T19:30:00.000000Z"
    assert datetime.fromisoformat(version["first_record_at"]) == datetime(2023, 12, 31, 19, 30, tzinfo=UTC)
