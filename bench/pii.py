"""Scan 1,000,000 forum records for personal data through the scan job, once on one process and
once on every core. Last line: {"records_per_s_per_core", "records_per_s_all_cores", "cores",
"peak_mb", …}.

    .venv/bin/python bench/pii.py [--records N] [--processes P]

Building the database is not timed: a migrated SQLite file with a platform, a dataset and N
records of about 300 characters (forum sentences; about a third carry ordinary numbers such
as prices, times, versions, years; one in ten a text a careless scanner would flag; 5% one
planted personal value from the fixture's generators), written with bulk SQL. Each run then
starts from a copy of that file in a fresh process and times `jobs.scan_dataset` (the job a
large import queues) to its last commit: the job reads batches by id, scans them (in the
process itself when PII_SCAN_PROCESSES=1, else on a pool of that many processes), writes the
findings and marks the records, a slice of PII_JOB_SLICE records per transaction.

`records_per_s_per_core` is the one-process rate; `records_per_s_all_cores` the rate with a
pool of `cores` processes (the job's own process reads and writes meanwhile). `scaling` is
all cores / (cores × one core); `bare_cpu_loop_scaling`, measured before and after the runs,
is the same ratio for a bare CPU loop: on a machine shared with other work it says how much
of the machine the run could have had. `cpu_efficiency` is one process's CPU seconds over the
all-cores run's (the job's process and its workers): the parallel run's overhead, which the
neighbours don't move. `peak_mb` is the
largest resident set of any one process (the job's or a worker's, ru_maxrss). Goals (issue 18):
≥ 12,000 records/s per core, all cores ≥ 0.75 × cores × one core, peak under 300 MB.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, migrated_app, peak_mb, run_child  # noqa: E402

sys.path.insert(0, str(ROOT / "tests" / "pii" / "fixture"))

WORDS = ("the a this that my your new old board fan driver update install thread post reply forum "
         "works fine broke again after before today yesterday week month anyone know how why when "
         "really think issue problem seems weird slow fast great terrible tried changed nothing "
         "settings menu screen battery cable power case cooler bios manual guide wiki helped thanks "
         "cheers mate folks honestly maybe probably definitely because however although still").split()
NUMBERED = [
    "Paid ${price} for it in {year}.", "Running version {major}.{minor}.{patch} since {month} {day}.",
    "Temps sit at {t} C idle after {n} minutes.", "Got {n} replies in {t} hours, not bad.",
    "Meeting at {hour}:{minute}, room {n}.", "It weighs {major}.{minor} kg and costs {price} EUR.",
    "My {year} model has {n} GB and a {t} W supply.", "Page {n} of the manual, step {t}.",
]


def forum_text(rng: random.Random, tricky: list[str], makers: dict, planted: bool) -> tuple[str, int]:
    """About 300 characters of forum post; (text, planted values in it)."""
    parts, length = [], 0
    while length < 280:
        roll = rng.random()
        if roll < 0.12:
            part = rng.choice(NUMBERED).format(
                price=f"{rng.randint(5, 2000)}.{rng.randint(0, 99):02d}", year=rng.randint(1995, 2025),
                major=rng.randint(1, 12), minor=rng.randint(0, 20), patch=rng.randint(0, 40),
                month=rng.choice(["Jan", "March", "May", "Oct"]), day=rng.randint(1, 28),
                t=rng.randint(2, 99), n=rng.randint(2, 500), hour=rng.randint(0, 23),
                minute=f"{rng.randint(0, 59):02d}")
        elif roll < 0.15:
            part = rng.choice(tricky)
        else:
            words = rng.choices(WORDS, k=rng.randint(6, 14))
            part = " ".join(words).capitalize() + rng.choice([".", ".", "?", "!"])
        parts.append(part)
        length += len(part) + 1
    text = " ".join(parts)
    if not planted:
        return text[:310], 0
    kind = rng.choice(["email", "phone", "ip_address", "payment_card", "iban", "handle"])
    value = makers[kind](rng)
    cut = rng.randint(40, 200)
    return f"{text[:cut]} reach me: {value} {text[cut:]}"[:340], 1


def build(db_path: Path, records: int, seed: int = 18) -> dict:
    import make_fixture

    tricky = make_fixture.TUNING_CLEAN + make_fixture.HELD_OUT_CLEAN
    app = migrated_app(db_path)
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
        platform_id, dataset_id = platform.id, dataset.id
        db.engine.dispose()
    rng = random.Random(seed)
    connection = sqlite3.connect(db_path, isolation_level=None)
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("BEGIN")
    connection.executemany(
        "INSERT INTO contributors (platform_id, external_id, region, created_at) VALUES (?, ?, 'US', "
        "'2024-01-01 00:00:00.000000')", [(platform_id, f"user-{c:06d}") for c in range(10_000)])
    first = connection.execute("SELECT min(id) FROM contributors").fetchone()[0]
    planted = 0
    batch = []
    for i in range(records):
        text, n = forum_text(rng, tricky, make_fixture.MAKERS, rng.random() < 0.05)
        planted += n
        batch.append((dataset_id, f"post-{i:08d}", first + i % 10_000, text,
                      "2024-05-01 12:00:00.000000", len(text.split())))
        if len(batch) == 20_000:
            connection.executemany(
                "INSERT INTO records (dataset_id, external_id, contributor_id, text, created_at, tokens, "
                "added_rev, modified_rev) VALUES (?, ?, ?, ?, ?, ?, 1, 1)", batch)
            batch.clear()
    if batch:
        connection.executemany(
            "INSERT INTO records (dataset_id, external_id, contributor_id, text, created_at, tokens, "
            "added_rev, modified_rev) VALUES (?, ?, ?, ?, ?, ?, 1, 1)", batch)
    connection.execute("COMMIT")
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    characters = connection.execute("SELECT avg(length(text)) FROM records").fetchone()[0]
    connection.close()
    return {"dataset_id": dataset_id, "planted": planted, "average_characters": round(characters)}


def child_scan(db_path: Path, dataset_id: int, processes: int) -> dict:
    app = migrated_app(db_path)
    app.config.update(PII_SCAN_PROCESSES=processes)
    from sqlalchemy import func, select

    from marketplace.catalog.models import Record
    from marketplace.extensions import db
    from marketplace.pii import jobs, scanning
    from marketplace.pii.models import PiiFinding

    wall, cpu = time.perf_counter(), time.process_time()
    jobs.scan_dataset.call_local(dataset_id)  # and, after each slice's commit, the next slice
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    # The job keeps its pool for the next job (scanning.shared_pool), so stopping the workers is
    # not part of the scan; they are stopped here so that their peak memory is counted below.
    scanning._shutdown_pools()
    with app.app_context():
        unscanned = db.session.scalar(select(func.count()).where(
            Record.dataset_id == dataset_id, Record.pii_version.is_(None)))
        findings = dict(db.session.execute(
            select(PiiFinding.type, func.count()).group_by(PiiFinding.type)).all())
    assert unscanned == 0, unscanned
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"seconds": wall, "cpu_seconds": cpu, "peak_mb": peak_mb(), "workers_peak_mb": children.ru_maxrss / 1024,
            "workers_cpu_seconds": children.ru_utime + children.ru_stime, "findings": findings}


def _burn(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def parallel_floor(cores: int, n: int = 10_000_000) -> float:
    """How well a bare CPU loop scales over `cores` processes right now (1.0: perfectly; a shared
    machine whose other users hold a core gives less): the all-cores figure's context."""
    from concurrent.futures import ProcessPoolExecutor

    started = time.perf_counter()
    _burn(n)
    one = time.perf_counter() - started
    with ProcessPoolExecutor(cores) as pool:
        list(pool.map(_burn, [10] * cores))
        started = time.perf_counter()
        list(pool.map(_burn, [n] * cores))
        every = time.perf_counter() - started
    return round(one / every, 2)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--processes", type=int, default=0, help="0: every core.")
    parser.add_argument("--child", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.child:
        db_path, dataset_id, processes = Path(args.child[0]), int(args.child[1]), int(args.child[2])
        print(json.dumps(child_scan(db_path, dataset_id, processes)))
        return
    from marketplace.pii.scanning import every_core

    cores = args.processes or every_core()
    with tempfile.TemporaryDirectory(prefix="bench-pii-") as folder:
        source = Path(folder) / "source.sqlite3"
        started = time.perf_counter()
        built = build(source, args.records)
        print(f"built {args.records:,} records in {time.perf_counter() - started:.0f} s: {built}",
              file=sys.stderr)
        runs = {}
        floors = [parallel_floor(cores)]
        for name, processes in (("one", 1), ("all", cores)):
            copy = Path(folder) / f"{name}.sqlite3"
            shutil.copyfile(source, copy)
            runs[name] = run_child(Path(__file__), str(copy), str(built["dataset_id"]), str(processes))
            print(f"{name}: {runs[name]}", file=sys.stderr)
            copy.unlink()
        floors.append(parallel_floor(cores))
    one, every = runs["one"], runs["all"]
    per_core = args.records / one["seconds"]
    all_cores = args.records / every["seconds"]
    found = sum(one["findings"].values())
    print(json.dumps({
        "records": args.records, "average_characters": built["average_characters"],
        "planted": built["planted"], "findings": found, "findings_by_type": one["findings"],
        "same_findings_both_runs": one["findings"] == every["findings"],
        "seconds_one_process": round(one["seconds"], 1), "seconds_all_cores": round(every["seconds"], 1),
        "cpu_seconds_one_process": round(one["cpu_seconds"], 1),
        # The CPU the all-cores run spent (the job's process and its workers, start and stop
        # included) against one process's: what parallelism costs whatever the neighbours take.
        # With every core free, scaling could reach about cpu_efficiency.
        "cpu_seconds_all_cores": round(every["cpu_seconds"] + every["workers_cpu_seconds"], 1),
        "cpu_efficiency": round(one["cpu_seconds"] / (every["cpu_seconds"] + every["workers_cpu_seconds"]), 2),
        "scaling": round(all_cores / (cores * per_core), 2),
        "bare_cpu_loop_scaling": floors,
        "peak_mb": round(max(one["peak_mb"], every["peak_mb"], every["workers_peak_mb"])),
        "job_process_peak_mb": round(max(one["peak_mb"], every["peak_mb"])),
        "worker_peak_mb": round(every["workers_peak_mb"]),
        "cores": cores,
        "records_per_s_per_core": round(per_core),
        "records_per_s_all_cores": round(all_cores),
    }))


if __name__ == "__main__":
    main()
