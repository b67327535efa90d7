"""Import 1,000,000 records (100,000 contributors) through the product's import path, against a
floor measured in the same run: a bare sqlite3 executemany of the same rows, pre-parsed, into
the same table and indexes. Last line: {"records_per_s", "ratio_to_floor", "peak_mb", …}.

    .venv/bin/python bench/import.py [--records N] [--contributors M] [--rounds R]

The NDJSON file is written first (not timed). Each round then runs two child processes, each on
a fresh migrated database with a platform and an empty dataset:

- the floor: the rows parsed beforehand (not timed) into exactly what the importer stores, the
  contributors already in; then one `executemany` of a plain INSERT into `records` and a COMMIT,
  on a raw connection from the app's own engine (so with the app's PRAGMAs, marketplace/db.py);
- the import: `importer.import_records(session, dataset, importer.ndjson_objects(file))`, the
  code behind `flask records import` and the API, timed from opening the file to the commit.
  Peak memory is that process's RSS high-water mark (ru_maxrss), app and migrations included.

Each time is the best of R rounds (floor and import alternate, so a busy machine slows both);
the ratio is best import time / best floor time. CPU seconds are reported too: on a shared
machine they wander less than wall time.
"""
from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import migrated_app, peak_mb, run_child  # noqa: E402

REGIONS = ["US", "FR", "DE", "BR", "IN", "JP", "GB", "KR", "CA", "NG"]
FILLER = "the quick brown fox jumps over the lazy dog while the platform keeps its archive tidy "
INSERT_RECORDS = ("INSERT INTO records (dataset_id, external_id, contributor_id, text, created_at, "
                  "tokens, added_rev, modified_rev) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")


def generate(path: Path, records: int, contributors: int) -> int:
    """NDJSON lines of about 200 bytes; contributors interleaved (record i → i·7919 mod M)."""
    with path.open("wb") as file:
        for i in range(records):
            c = (i * 7919) % contributors
            day, hour = f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}", f"{i % 24:02d}:{i % 60:02d}"
            file.write(orjson.dumps({
                "external_id": f"post-{i:08d}",
                "contributor": {"external_id": f"user-{c:07d}", "region": REGIONS[c % 10]},
                "text": FILLER[: 60 + i % 40] + str(i),
                "created_at": f"{day}T{hour}:{i % 59:02d}Z",
            }) + b"\n")
    return path.stat().st_size


def setup(app) -> tuple[int, int]:
    """A platform and an empty dataset, as sign-up and the dataset form make them; committed."""
    from marketplace.accounts import services as accounts
    from marketplace.catalog import services
    from marketplace.catalog.schemas import DatasetCreateSchema
    from marketplace.extensions import db

    with app.app_context():
        platform, _user, _key = accounts.sign_up(
            db.session, "platform", "Bench Forum", "bench@example.test", "long enough password")
        fields = DatasetCreateSchema().load({"slug": "bench", "title": "Bench records",
                                             "content_kind": "post", "languages": ["en"]})
        dataset = services.create_dataset(db.session, platform.id, fields)
        db.session.commit()
        return platform.id, dataset.id


def child_import(db_path: Path, file: Path, records: int, contributors: int) -> dict:
    from sqlalchemy import func, select

    from marketplace.catalog import importer
    from marketplace.catalog.models import Contributor, Dataset, Record
    from marketplace.extensions import db

    app = migrated_app(db_path)
    _platform_id, dataset_id = setup(app)
    with app.app_context():
        dataset = db.session.get(Dataset, dataset_id)
        baseline = peak_mb()
        wall, cpu = time.perf_counter(), time.process_time()
        with open(file, "rb", buffering=0) as raw:  # as the CLI opens it
            objects = importer.ndjson_objects(io.BufferedReader(raw, 1 << 20))
            result = importer.import_records(db.session, dataset, objects)
        db.session.commit()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        peak = peak_mb()
        # All of it went in (not timed).
        assert (result.created, result.updated) == (records, 0), result
        count = select(func.count()).where(Record.dataset_id == dataset_id)
        assert db.session.scalar(count) == records
        assert db.session.scalar(select(func.count()).select_from(Contributor)) == contributors
    return {"seconds": wall, "cpu_seconds": cpu, "peak_mb": peak, "baseline_mb": baseline}


def parse_for_floor(file: Path, dataset_id: int) -> tuple[list[list], dict[str, str]]:
    """The rows the importer stores (timestamps in its text form), and each contributor's region."""
    rows, regions = [], {}
    with open(file, "rb") as lines:
        for line in lines:
            obj = orjson.loads(line)
            contributor = obj["contributor"]
            regions[contributor["external_id"]] = contributor["region"]
            moment = datetime.fromisoformat(obj["created_at"]).astimezone(UTC).replace(tzinfo=None)
            rows.append([dataset_id, obj["external_id"], contributor["external_id"], obj["text"],
                         moment.isoformat(" ", "microseconds"), len(obj["text"].split()), 1, 1])
    return rows, regions


def child_floor(db_path: Path, file: Path, records: int, contributors: int) -> dict:
    from marketplace.extensions import db

    app = migrated_app(db_path)
    platform_id, dataset_id = setup(app)
    rows, regions = parse_for_floor(file, dataset_id)
    with app.app_context():
        # The app's own engine: its connect hook sets the PRAGMAs and leaves BEGIN to us.
        pooled = db.engine.raw_connection()
    connection = pooled.dbapi_connection
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    connection.execute("BEGIN")
    connection.executemany(
        "INSERT INTO contributors (platform_id, external_id, region, created_at) "
        "VALUES (?, ?, ?, ?)", [(platform_id, ext, region, now) for ext, region in regions.items()])
    ids = dict(connection.execute("SELECT external_id, id FROM contributors"))
    connection.execute("COMMIT")
    for row in rows:
        row[2] = ids[row[2]]
    wall, cpu = time.perf_counter(), time.process_time()
    connection.execute("BEGIN")
    connection.executemany(INSERT_RECORDS, rows)
    connection.execute("COMMIT")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    assert connection.execute("SELECT count(*) FROM records").fetchone()[0] == records
    assert len(regions) == contributors
    pooled.close()
    return {"seconds": wall, "cpu_seconds": cpu}


def run_rounds(args) -> tuple[list[dict], list[dict]]:
    floors, imports = [], []
    sizes = ["--records", str(args.records), "--contributors", str(args.contributors)]
    with tempfile.TemporaryDirectory(prefix="dividend-bench-") as folder:
        folder = Path(folder)
        file = folder / "records.ndjson"
        size = generate(file, args.records, args.contributors)
        print(f"{args.records:,} records from {args.contributors:,} contributors, "
              f"{size / args.records:.0f} bytes a line, {size / 1e6:.0f} MB")
        for round_ in range(1, args.rounds + 1):
            for kind, runs in (("floor", floors), ("import", imports)):
                db_path = folder / f"{kind}-{round_}.sqlite3"
                runs.append(run_child(Path(__file__), kind, str(db_path), str(file), *sizes))
                for leftover in folder.glob(f"{db_path.name}*"):
                    leftover.unlink()
            floor, imported = floors[-1], imports[-1]
            print(f"  round {round_}: floor {floor['seconds']:.2f} s "
                  f"({floor['cpu_seconds']:.2f} s CPU), import {imported['seconds']:.2f} s "
                  f"({imported['cpu_seconds']:.2f} s CPU), peak {imported['peak_mb']:.0f} MB")
    return floors, imports


def report(args, floors: list[dict], imports: list[dict]) -> None:
    floor = min(run["seconds"] for run in floors)
    seconds = min(run["seconds"] for run in imports)
    cpu_ratio = (min(run["cpu_seconds"] for run in imports)
                 / min(run["cpu_seconds"] for run in floors))
    peak = max(run["peak_mb"] for run in imports)
    baseline = max(run["baseline_mb"] for run in imports)
    rate, floor_rate, ratio = args.records / seconds, args.records / floor, seconds / floor
    print(f"floor (bare executemany, pre-parsed, contributors in): {floor:.2f} s, "
          f"{floor_rate:,.0f} records/s")
    print(f"import (read, parse, check, upsert contributors, insert records, commit): "
          f"{seconds:.2f} s, {rate:,.0f} records/s")
    print(f"ratio to floor: {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU (best of {args.rounds})")
    print(f"peak memory of the importing process: {peak:.0f} MB "
          f"({baseline:.0f} MB before the import began)")
    print(json.dumps({
        "records_per_s": round(rate), "ratio_to_floor": round(ratio, 3), "peak_mb": round(peak, 1),
        "seconds": round(seconds, 2), "floor_seconds": round(floor, 2),
        "floor_records_per_s": round(floor_rate), "cpu_ratio_to_floor": round(cpu_ratio, 3),
        "baseline_mb": round(baseline, 1), "rounds": args.rounds, "records": args.records,
        "contributors": args.contributors,
    }))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--contributors", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3, help="best of R (default 3)")
    parser.add_argument("--child", nargs=3, metavar=("KIND", "DB", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, db_path, file = args.child
        child = child_import if kind == "import" else child_floor
        print(json.dumps(child(Path(db_path), Path(file), args.records, args.contributors)))
        return
    if not 0 < args.contributors <= args.records or args.rounds < 1:
        parser.error("need 0 < contributors <= records and rounds >= 1")
    if args.contributors % 7919 == 0:  # the stride spreading records over contributors
        parser.error("--contributors must not be a multiple of 7919")
    report(args, *run_rounds(args))


if __name__ == "__main__":
    main()
