"""`flask records import SLUG FILE`: NDJSON or CSV, all lines or none, a one-line summary."""
from __future__ import annotations

import pytest

from tests import factories
from tests.catalog.helpers import record_count, stored_records

HEADER = "external_id,contributor_external_id,contributor_region,text,created_at"


@pytest.fixture
def slug(client, platform):
    return factories.create_dataset(client, platform, slug="forum-2024")["slug"]


def run(runner, slug, path, *options):
    return runner.invoke(args=["records", "import", slug, str(path), *options])


def test_an_ndjson_file_goes_in_and_a_second_run_updates(runner, slug, tmp_path):
    path = tmp_path / "posts.ndjson"
    path.write_bytes(factories.ndjson([factories.record(i) for i in range(3)]))
    first = run(runner, slug, path)
    assert (first.exit_code, first.stdout) == (0, "forum-2024: 3 created, 0 updated.\n")
    second = run(runner, slug, path)
    assert (second.exit_code, second.stdout) == (0, "forum-2024: 0 created, 3 updated.\n")
    assert record_count(slug) == 3


def test_a_csv_file_by_its_extension(runner, slug, tmp_path):
    path = tmp_path / "posts.CSV"
    path.write_text(f"{HEADER},tokens\r\n"
                    "c1,u1,gb,\"a caption, quoted\",2024-01-01T00:00:00Z,\r\n"
                    "c2,u2,KR,\"two\nlines\",2024-01-02T00:00:00+09:00,12\r\n", encoding="utf-8", newline="")
    result = run(runner, slug, path)
    assert (result.exit_code, result.stdout) == (0, "forum-2024: 2 created, 0 updated.\n")
    stored = stored_records(slug)
    assert (stored["c1"]["region"], stored["c1"]["tokens"], stored["c1"]["text"]) == ("GB", 3, "a caption, quoted")
    assert (stored["c2"]["text"], stored["c2"]["tokens"], stored["c2"]["created_at"].isoformat()) == \
        ("two\nlines", 12, "2024-01-01T15:00:00")


@pytest.mark.parametrize(("name", "fmt", "content"), [
    ("export.txt", "csv", f"{HEADER}\nx1,u1,US,hello,2024-01-01T00:00:00Z\n".encode()),
    ("export.csv", "ndjson", factories.ndjson([factories.record(1)])),
])
def test_the_format_option_overrides_the_extension(runner, slug, tmp_path, name, fmt, content):
    path = tmp_path / name
    path.write_bytes(content)
    result = run(runner, slug, path, "--format", fmt)
    assert (result.exit_code, result.stdout) == (0, "forum-2024: 1 created, 0 updated.\n")


def test_a_bad_line_writes_nothing_and_names_it(runner, slug, tmp_path):
    path = tmp_path / "bad.ndjson"
    lines = [factories.record(i) for i in range(5)]
    lines[3] = {**lines[3], "created_at": "2024-13-01"}
    path.write_bytes(factories.ndjson(lines))
    result = run(runner, slug, path)
    assert result.exit_code == 1 and result.stdout == ""
    assert "line 4: created_at: Bad timestamp '2024-13-01': use ISO 8601.\n" in result.stderr
    assert result.stderr.rstrip().endswith(
        "Error: 1 bad line(s); nothing was imported. First: line 4, created_at: Bad timestamp '2024-13-01': "
        "use ISO 8601.")
    assert record_count(slug) == 0


def test_at_most_20_bad_lines_are_printed(runner, slug, tmp_path):
    path = tmp_path / "bad.ndjson"
    path.write_bytes(factories.ndjson([{**factories.record(i), "text": ""} for i in range(25)]))
    result = run(runner, slug, path)
    assert result.exit_code == 1
    assert [line for line in result.stderr.splitlines() if line.startswith("line ")] == \
        [f"line {n}: text: Missing text." for n in range(1, 21)]


@pytest.mark.parametrize(("content", "message"), [
    (b"", "line 1: external_id: The CSV header lacks the column 'external_id'."),
    (f"{HEADER}\n".encode(), "Error: The file holds no records."),
    (b"external_id,text\nx,hello\n",
     "line 1: contributor_external_id: The CSV header lacks the column 'contributor_external_id'."),
    (f"{HEADER},tokens\nx,u,US,hello,2024-01-01T00:00:00Z,many\n".encode(),
     "line 2: tokens: Give a whole number of tokens, 0 or more."),
    (f"{HEADER}\nx,u,US,caf\xe9,2024-01-01T00:00:00Z\n".encode("latin-1"),
     "Error: records.csv is not UTF-8 text; nothing was imported."),
])
def test_a_bad_csv_writes_nothing(runner, slug, tmp_path, content, message):
    path = tmp_path / "records.csv"
    path.write_bytes(content)
    result = run(runner, slug, path)
    assert result.exit_code == 1
    assert message in result.stderr
    assert record_count(slug) == 0


def test_an_unknown_dataset_or_file(runner, slug, tmp_path):
    path = tmp_path / "posts.ndjson"
    path.write_bytes(factories.ndjson([factories.record(1)]))
    result = run(runner, "nothing-here", path)
    assert (result.exit_code, result.stderr.strip()) == (1, "Error: No dataset 'nothing-here'.")
    missing = run(runner, slug, tmp_path / "missing.ndjson")
    assert missing.exit_code == 2 and "does not exist" in missing.stderr


def test_a_csv_saved_with_a_byte_order_mark_reads_its_header(runner, slug, tmp_path):
    # Spreadsheet programs write UTF-8 CSV with a BOM; the first column must still be external_id.
    path = tmp_path / "from-a-spreadsheet.csv"
    path.write_bytes("\ufeff".encode() + f"{HEADER}\r\nx1,u1,FR,bonjour,2024-01-01T00:00:00Z\r\n".encode())
    result = run(runner, slug, path)
    assert (result.exit_code, result.stdout) == (0, "forum-2024: 1 created, 0 updated.\n")
    assert stored_records(slug)["x1"]["region"] == "FR"
