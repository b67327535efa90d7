"""Import 1,000,000 records (100,000 contributors) through the product's import path, against a
floor measured in the same run: a bare sqlite3 executemany of the same rows, pre-parsed, into the
same table and indexes. Last line: {"records_per_s", "ratio_to_floor", "peak_mb", …}.

    .venv/bin/python bench/import.py [--records N] [--contributors M]
"""
from __future__ import annotations

import argparse
import io
import json
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PRAGMAS, migrated_app, peak_mb, run_child  # noqa: E402

REGIONS = ["US", "FR", "DE", "BR", "IN", "JP", "GB", "KR", "CA", "NG"]
FILLER = "the quick brown fox jumps over the lazy dog while the platform keeps its archive tidy "


def generate(path: Path, records: int, contributors: int) -> int:
    """NDJSON lines of about 200 bytes each."""
    with path.open("wb") as file:
        for i in range(records):
            c = (i * 7919) % contributors
            file.write(orjson.dumps({
                "external_id": f"post-{i:08d}",
                "contributor": {"external_id": f"user-{c:07d}", "region": REGIONS[c % len(REGIONS)]},
                "text": FILLER[: 60 + i % 40] + str(i),
                "created_at": f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
            }) + b"\n")
    return path.stat().st_size


def setup(app):
    from marketplace.accounts import services as accounts
    from marketplace.catalog import services
    from marketplace.extensions import db

    with app.app_context():
        platform, _user, _key = accounts.sign_up(db.session, "platform", "Bench Forum", "bench@example.test",
                                                 "long enough password")
        dataset = services.create_dataset(db.session, platform.id, {
            "slug": "bench", "title": "Bench records", "summary": "", "description": "", "content_kind": "post",
            "languages": ["en"], "tags": [], "consent_policy": "opt_out", "weighting": "records"})
        db.session.commit()
        return platform.id, dataset.id


def child_import(db_path: Path, file: Path) -> dict:
    from marketplace.catalog import importer
    from marketplace.catalog.models import Dataset
    from marketplace.extensions import db

    app = migrated_app(db_path)
    _platform_id, dataset_id = setup(app)
    with app.app_context():
        dataset = db.session.get(Dataset, dataset_id)
        started = time.perf_counter()
        with open(file, "rb", buffering=0) as raw:
            result = importer.import_records(db.session, dataset,
                                             importer.ndjson_objects(io.BufferedReader(raw, 1 << 20)))
        db.session.commit()
        seconds = time.perf_counter() - started
    return {"seconds": seconds, "created": result.created, "peak_mb": peak_mb()}


def child_floor(db_path: Path, file: Path) -> dict:
    app = migrated_app(db_path)
    platform_id, dataset_id = setup(app)
    # Pre-parse (not timed): the same rows the importer writes.
    contributors: dict[str, str] = {}
    rows = []
    with open(file, "rb") as lines:
        for line in lines:
            obj = orjson.loads(line)
            contributors[obj["contributor"]["external_id"]] = obj["contributor"]["region"]
            moment = datetime.fromisoformat(obj["created_at"]).astimezone(UTC).replace(tzinfo=None)
            rows.append([dataset_id, obj["external_id"], obj["contributor"]["external_id"], obj["text"],
                         moment.isoformat(" ", "microseconds"), len(obj["text"].split()), 1, 1])
    connection = sqlite3.connect(db_path, isolation_level=None)
    for pragma in PRAGMAS:
        connection.execute(pragma)
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    connection.execute("BEGIN")
    connection.executemany("INSERT INTO contributors (platform_id, external_id, region, created_at) VALUES (?, ?, ?, ?)",
                           [(platform_id, ext, region, now) for ext, region in contributors.items()])
    ids = dict(connection.execute("SELECT external_id, id FROM contributors"))
    connection.execute("COMMIT")
    for row in rows:
        row[2] = ids[row[2]]
    started = time.perf_counter()
    connection.execute("BEGIN")
    connection.executemany(
        "INSERT INTO records (dataset_id, external_id, contributor_id, text, created_at, tokens, added_rev, "
        "modified_rev) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    connection.execute("COMMIT")
    return {"seconds": time.perf_counter() - started}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--contributors", type=int, default=100_000)
    parser.add_argument("--child", nargs="*")
    args = parser.parse_args()
    if args.child:
        kind, db_path, file = args.child
        result = (child_import if kind == "import" else child_floor)(Path(db_path), Path(file))
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory(prefix="dividend-bench-") as folder:
        folder = Path(folder)
        file = folder / "records.ndjson"
        size = generate(file, args.records, args.contributors)
        print(f"{args.records:,} records from {args.contributors:,} contributors, "
              f"{size / args.records:.0f} bytes a line, {size / 1e6:.0f} MB")
        floor = run_child(Path(__file__), "floor", str(folder / "floor.sqlite3"), str(file))
        imported = run_child(Path(__file__), "import", str(folder / "import.sqlite3"), str(file))
    assert imported["created"] == args.records, imported
    floor_rate = args.records / floor["seconds"]
    rate = args.records / imported["seconds"]
    ratio = imported["seconds"] / floor["seconds"]
    print(f"floor (bare executemany, pre-parsed): {floor['seconds']:.2f} s, {floor_rate:,.0f} records/s")
    print(f"import (parse, check, upsert contributors and records, commit): {imported['seconds']:.2f} s, "
          f"{rate:,.0f} records/s, peak {imported['peak_mb']:.0f} MB")
    print(f"ratio to floor: {ratio:.2f}x")
    print(json.dumps({"records_per_s": round(rate), "ratio_to_floor": round(ratio, 3),
                      "peak_mb": round(imported["peak_mb"], 1), "seconds": round(imported["seconds"], 2),
                      "floor_records_per_s": round(floor_rate), "records": args.records,
                      "contributors": args.contributors}))


if __name__ == "__main__":
    main()
