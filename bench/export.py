"""A license's export of 1,000,000 records streamed through the real route, against a floor
measured in the same run: the same rows written as JSONL straight from a `sqlite3` cursor to a file.

    .venv/bin/python bench/export.py [--records N] [--contributors M] [--rounds R]

The dataset is bench/allocation.py's (bulk SQL, consent decisions of every kind, a fifth of the
contributors in opt-in regions), with one personal value (e-mail, phone, card, IBAN, handle or IP
address) appended to one record in twenty, scanned by the personal-data scan (every core), frozen,
offered, published and licensed (paid offline as the demo pays). None of that is timed. Then,
each in a fresh process, R times alternately:

- export: POST /api/v1/licenses/{id}/downloads, then GET the signed URL through the test client,
  unbuffered, writing each chunk to a file as it comes (the route's whole work: eligibility by the
  one rule at download time, the server-side cursor, each batch's findings in one query and the
  redaction of the records that have any, pseudonyms, canaries, the sha256 tally, and the job
  that logs the download);
- floor: the exported rows (the eligible contributors' records, picked before timing) read from a
  bare sqlite3 cursor and written as JSONL with orjson (stored texts, unredacted).

Best of each. `peak_mb` is the exporting process's RSS high-water mark (app and all);
`baseline_mb` that mark before the export. Last line: one JSON object with `mb_per_s`,
`ratio_to_floor` (export seconds / floor seconds), `peak_mb`, and `placeholders` (counted in
the exported file) beside `planted` (records given a value; the export holds the eligible ones).
"""
from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import migrated_app, peak_mb, run_child  # noqa: E402
from allocation import OPT_IN, connect, fill, make_dataset  # noqa: E402

SECRET = "bench-secret-not-real"
PLACEHOLDER = re.compile(rb"<(?:EMAIL|PHONE|IP_ADDRESS|PAYMENT_CARD|IBAN|HANDLE)>")

# One record in twenty (5%) gets one personal value, of five kinds in turn, so the export's
# redaction does real work (the rest pass through untouched).
PLANT_SQL = """
UPDATE records SET text = text || CASE (id / 20) % 6
    WHEN 0 THEN printf(' mail me at ann.%d@example.org', id)
    WHEN 1 THEN printf(' call +1 415 867 %04d', id % 10000)
    WHEN 2 THEN ' card 4111 1111 1111 1111 thanks'
    WHEN 3 THEN ' IBAN DE89 3704 0044 0532 0130 00'
    WHEN 4 THEN printf(' thanks @user_%d', id)
    ELSE printf(' server at 81.2.%d.%d:8080', (id / 256) % 200 + 1, id % 250 + 1) END
WHERE dataset_id = ? AND id % 20 = 0"""


def _app(db_path: Path):
    from marketplace import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "JOBS": "immediate",
                       "OPT_IN_REGIONS": OPT_IN, "SECRET_KEY": SECRET})


def child_build(db_path: Path, records: int, contributors: int) -> dict:
    from sqlalchemy import text

    from marketplace.accounts import services as accounts
    from marketplace.catalog import offers, services
    from marketplace.catalog.models import Dataset
    from marketplace.catalog.schemas import OfferCreateSchema
    from marketplace.catalog.versions import freeze_version
    from marketplace.consent.eligibility import EligibilityQuestion, bind, eligible_sql
    from marketplace.db import begin_immediate, utcnow
    from marketplace.demo_history import paid_license
    from marketplace.extensions import db
    from marketplace.pii import scanning

    migrated_app(db_path)
    app = _app(db_path)
    started = time.perf_counter()
    platform_id, dataset_id = make_dataset(app, "big")
    fill(db_path, platform_id, dataset_id, records, contributors)
    connection = connect(db_path)
    with connection:
        planted = connection.execute(PLANT_SQL, (dataset_id,)).rowcount
    connection.close()
    with app.app_context():
        begin_immediate(db.session)
        scanning.scan_records(db.session, dataset_id, processes=scanning.every_core())  # as the scan job does
        db.session.commit()
        findings = db.session.scalar(text("SELECT COUNT(*) FROM pii_findings WHERE dataset_id = :d"),
                                     {"d": dataset_id})
        begin_immediate(db.session)
        dataset = db.session.get(Dataset, dataset_id)
        version = freeze_version(db.session, dataset)
        offer = offers.create_offer(db.session, dataset, OfferCreateSchema().load({
            "name": "Training", "scopes": ["ai-train"], "term_months": 12, "territory": ["*"],
            "price": {"model": "flat", "amount": 100_000, "currency": "usd"}, "contributor_share_bps": 5000}))
        services.publish(db.session, dataset)
        buyer, user, key = accounts.sign_up(db.session, "buyer", "Bench Lab", "lab@example.test",
                                            "long enough password")
        db.session.commit()
        begin_immediate(db.session)
        license, _payment, _allocation = paid_license(buyer, user, offer.id, tag="bench")
        db.session.commit()
        question = EligibilityQuestion(dataset_id, platform_id, "opt_out", "records", (version.id,), ("ai-train",),
                                       utcnow(), OPT_IN)
        sql, params = eligible_sql(question)
        eligible = db.session.execute(bind(sql + " SELECT contributor_id FROM eligible"), params).scalars().all()
        result = {"license_id": license.id, "api_key": key.secret, "dataset_id": dataset_id}
    connection = connect(db_path)
    connection.execute("CREATE TABLE bench_eligible (id INTEGER PRIMARY KEY)")
    connection.executemany("INSERT INTO bench_eligible VALUES (?)", ((i,) for i in eligible))
    connection.close()
    return {**result, "eligible_contributors": len(eligible), "planted": planted, "findings": findings,
            "build_s": round(time.perf_counter() - started, 1)}


def child_export(db_path: Path, license_id: int, api_key: str, out: Path) -> dict:
    app = _app(db_path)
    client = app.test_client()
    baseline = peak_mb()
    started = time.perf_counter()
    issued = client.post(f"/api/v1/licenses/{license_id}/downloads", json={},
                         headers={"Authorization": f"Bearer {api_key}"})
    assert issued.status_code == 201, issued.get_json()
    response = client.get(issued.get_json()["url"], buffered=False)
    assert response.status_code == 200 and "Content-Length" not in response.headers
    size = 0
    with open(out, "wb") as handle:
        for chunk in response.response:
            handle.write(chunk)
            size += len(chunk)
    response.close()
    seconds = time.perf_counter() - started
    lines = placeholders = 0
    with open(out, "rb") as handle:
        for line in handle:
            lines += 1
            placeholders += len(PLACEHOLDER.findall(line))
    return {"seconds": seconds, "bytes": size, "lines": lines, "placeholders": placeholders, "peak_mb": peak_mb(),
            "baseline_mb": baseline}


def child_floor(db_path: Path, dataset_id: int, out: Path) -> dict:
    import orjson

    started = time.perf_counter()
    connection = sqlite3.connect(db_path)
    cursor = connection.execute(
        "SELECT r.external_id, r.text, r.created_at, r.contributor_id FROM records r "
        "WHERE r.dataset_id = ? AND r.taken_down_at IS NULL AND r.contributor_id IN (SELECT id FROM bench_eligible) "
        "ORDER BY r.id", (dataset_id,))
    size = lines = 0
    dumps = orjson.dumps
    with open(out, "wb") as handle:
        for external_id, text, created_at, contributor in cursor:
            line = dumps({"external_id": external_id, "text": text, "created_at": created_at,
                          "contributor": str(contributor)}) + b"\n"
            handle.write(line)
            size += len(line)
            lines += 1
    connection.close()
    return {"seconds": time.perf_counter() - started, "bytes": size, "lines": lines}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--contributors", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        if kind == "build":
            result = child_build(Path(rest[0]), int(rest[1]), int(rest[2]))
        elif kind == "export":
            result = child_export(Path(rest[0]), int(rest[1]), rest[2], Path(rest[3]))
        else:
            result = child_floor(Path(rest[0]), int(rest[1]), Path(rest[2]))
        print(json.dumps(result))
        return
    script = Path(__file__).resolve()
    with tempfile.TemporaryDirectory(prefix="dividend-bench-") as folder:
        db_path, out = Path(folder) / "export.sqlite3", Path(folder) / "out.jsonl"
        built = run_child(script, "build", str(db_path), str(args.records), str(args.contributors))
        print(f"built {args.records:,} records from {args.contributors:,} contributors ({built['planted']:,} with "
              f"a personal value, {built['findings']:,} findings stored by the scan), licensed "
              f"({built['eligible_contributors']:,} contributors eligible) in {built['build_s']:.0f} s (not timed)",
              flush=True)
        exports, floors = [], []
        for round_ in range(args.rounds):
            floors.append(run_child(script, "floor", str(db_path), str(built["dataset_id"]), str(out)))
            exports.append(run_child(script, "export", str(db_path), str(built["license_id"]), built["api_key"],
                                     str(out)))
            print(f"round {round_ + 1}: export {exports[-1]['seconds']:.2f} s, floor {floors[-1]['seconds']:.2f} s",
                  flush=True)
    export = min(exports, key=lambda e: e["seconds"])
    floor = min(floors, key=lambda f: f["seconds"])
    if export["lines"] != floor["lines"] + 3:
        raise SystemExit(f"the export has {export['lines']} lines, the floor {floor['lines']} (+3 canaries expected)")
    mb_per_s = export["bytes"] / 1e6 / export["seconds"]
    ratio = export["seconds"] / floor["seconds"]
    peak = max(e["peak_mb"] for e in exports)
    print(f"export: {export['bytes'] / 1e6:.0f} MB, {export['lines'] - 3:,} records in {export['seconds']:.2f} s "
          f"({mb_per_s:.0f} MB/s), peak {peak:.0f} MB (baseline {export['baseline_mb']:.0f} MB); floor "
          f"{floor['seconds']:.2f} s ({floor['bytes'] / 1e6 / floor['seconds']:.0f} MB/s): {ratio:.2f}x")
    print(json.dumps({
        "mb_per_s": round(mb_per_s, 1), "ratio_to_floor": round(ratio, 2), "peak_mb": round(peak, 1),
        "baseline_mb": round(export["baseline_mb"], 1), "export_s": round(export["seconds"], 2),
        "floor_s": round(floor["seconds"], 2), "floor_mb_per_s": round(floor["bytes"] / 1e6 / floor["seconds"], 1),
        "records": export["lines"] - 3, "bytes": export["bytes"], "rounds": args.rounds,
        "placeholders": export["placeholders"], "planted": built["planted"],
    }))


if __name__ == "__main__":
    main()
