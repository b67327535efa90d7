"""Issue 2's import promises: 100,000 records in one request and in one CLI call; atomic on bad lines."""
from __future__ import annotations

import csv

import orjson
import pytest
from sqlalchemy import func, select

from marketplace.catalog.models import Contributor, Dataset, Record
from marketplace.extensions import db
from tests import factories

N = 100_000


def ndjson_lines(n: int, prefix: str = "r"):
    for i in range(n):
        yield orjson.dumps({
            "external_id": f"{prefix}{i}",
            "contributor": {"external_id": f"u{i % 5000}", "region": ("US", "FR", "KR", "br")[i % 4]},
            "text": f"record {i} has five words",
            "created_at": "2024-03-01T10:00:00+02:00",
        }) + b"\n"


def record_count(slug: str) -> int:
    dataset = db.session.scalar(select(Dataset).where(Dataset.slug == slug))
    return db.session.scalar(select(func.count()).where(Record.dataset_id == dataset.id))


def post_ndjson(client, owner, slug, body: bytes):
    return client.post(f"/api/v1/datasets/{slug}/records", data=body,
                       headers={**owner["headers"], "Content-Type": "application/x-ndjson"})


@pytest.mark.slow
def test_one_request_imports_100k_records(client, platform):
    slug = factories.create_dataset(client, platform)["slug"]
    response = post_ndjson(client, platform, slug, b"".join(ndjson_lines(N)))
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {"created": N, "updated": 0}
    assert record_count(slug) == N
    platform_contributors = db.session.scalar(
        select(func.count()).where(Contributor.platform_id == platform["id"]))
    assert platform_contributors == 5000
    # The timestamp's offset is applied: stored in UTC.
    stored = db.session.scalar(select(Record).where(Record.external_id == "r7"))
    assert (stored.created_at.isoformat(), stored.tokens) == ("2024-03-01T08:00:00", 5)
    # Again: every line now counts as updated, nothing is duplicated.
    again = post_ndjson(client, platform, slug, b"".join(ndjson_lines(N)))
    assert again.get_json() == {"created": 0, "updated": N}
    assert record_count(slug) == N


@pytest.mark.slow
def test_one_cli_call_imports_100k_records(client, runner, platform, tmp_path):
    slug = factories.create_dataset(client, platform)["slug"]
    path = tmp_path / "records.ndjson"
    with path.open("wb") as file:
        file.writelines(ndjson_lines(N))
    result = runner.invoke(args=["records", "import", slug, str(path)])
    assert result.exit_code == 0, result.output
    assert f"{slug}: {N} created, 0 updated." in result.output
    assert record_count(slug) == N
    version = client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"]).get_json()
    # "record {i} has five words": five tokens each; u0..u4999 each named 20 times.
    assert (version["record_count"], version["token_count"], version["contributor_count"]) == (N, 5 * N, 5000)


@pytest.mark.slow
def test_one_cli_call_imports_100k_csv_rows(client, runner, platform, tmp_path):
    slug = factories.create_dataset(client, platform)["slug"]
    path = tmp_path / "records.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(["external_id", "contributor_external_id", "contributor_region", "text",
                         "created_at", "tokens"])
        for i in range(N):
            writer.writerow([f"c{i}", f"u{i % 3000}", "GB", f"caption, with a comma {i}",
                             "2024-01-01T00:00:00Z", "" if i % 2 else "9"])
    result = runner.invoke(args=["records", "import", slug, str(path)])
    assert result.exit_code == 0, result.output
    assert f"{slug}: {N} created, 0 updated." in result.output
    assert record_count(slug) == N
    tokens = dict(db.session.execute(
        select(Record.external_id, Record.tokens).where(Record.external_id.in_(["c0", "c1"]))).all())
    assert tokens == {"c0": 9, "c1": 5}  # "caption, with a comma 1": five words


BAD_LINES = [
    ({"text": None}, "text", "Missing text."),
    ({"text": ""}, "text", "Missing text."),
    ({"contributor": {"external_id": "u1", "region": "XX"}}, "contributor.region",
     "Unknown region code 'XX': use ISO 3166-1 alpha-2."),
    ({"created_at": "2024-13-45T99:00:00"}, "created_at",
     "Bad timestamp '2024-13-45T99:00:00': use ISO 8601."),
    ({"tokens": -3}, "tokens", "Give a whole number of tokens, 0 or more."),
    ({"external_id": 42}, "external_id", "Give a string of 1 to 200 characters."),
]


@pytest.mark.parametrize(("change", "field", "message"), BAD_LINES)
def test_a_bad_line_is_named_and_nothing_is_written(client, platform, change, field, message):
    slug = factories.create_dataset(client, platform)["slug"]
    factories.import_records(client, platform, slug, [factories.record(i) for i in range(3)])
    lines = [factories.record(i) for i in range(10, 20)]
    lines[6] = {**lines[6], **change}
    response = post_ndjson(client, platform, slug, factories.ndjson(lines))
    assert response.status_code == 422
    body = response.get_json()
    assert body["errors"] == {"lines": [{"line": 7, "field": field, "message": message}]}
    assert "line 7" in body["message"] and field in body["message"]
    assert record_count(slug) == 3


def test_a_bad_line_in_a_100k_import_leaves_the_dataset_unchanged(client, platform):
    slug = factories.create_dataset(client, platform)["slug"]
    lines = list(ndjson_lines(20_000))
    lines[15_000] = b'{"external_id": "bad", "contributor": {"external_id": "u", "region": "US"}, "created_at": "2024-01-01T00:00:00Z"}\n'
    lines[19_999] = b"{not json\n"
    response = post_ndjson(client, platform, slug, b"".join(lines))
    assert response.status_code == 422
    assert response.get_json()["errors"]["lines"] == [
        {"line": 15_001, "field": "text", "message": "Missing text."},
        {"line": 20_000, "field": None, "message": "Not valid JSON."},
    ]
    assert record_count(slug) == 0


def test_the_cli_rejects_a_bad_file_whole(client, runner, platform, tmp_path):
    slug = factories.create_dataset(client, platform)["slug"]
    path = tmp_path / "bad.ndjson"
    lines = [factories.record(i) for i in range(5)]
    lines[2]["contributor"]["region"] = "ZZ"
    path.write_bytes(factories.ndjson(lines))
    result = runner.invoke(args=["records", "import", slug, str(path)])
    assert result.exit_code == 1
    assert "line 3: contributor.region: Unknown region code 'ZZ'" in result.output
    assert record_count(slug) == 0


def test_errors_list_at_most_100_lines(client, platform):
    slug = factories.create_dataset(client, platform)["slug"]
    lines = [{**factories.record(i), "text": ""} for i in range(150)]
    body = post_ndjson(client, platform, slug, factories.ndjson(lines)).get_json()
    assert len(body["errors"]["lines"]) == 100
    assert body["errors"]["lines"][-1]["line"] == 100
    assert body["message"].startswith("100+ bad line(s) (only the first 100 are listed)")
