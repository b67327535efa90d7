"""Allocate one payment across 10,000,000 records from 1,000,000 contributors (SQLite), against a
floor measured in the same run: a bare sqlite3 INSERT … SELECT writing one row per contributor from
a GROUP BY over the records. Also times the freeze and `ledger check`, and the naive way (an ORM
object per contributor) against the real allocation on a 50,000-contributor slice. Last line:
{"freeze_seconds", "seconds", "credits_per_s", "ratio_to_floor", "peak_mb", "naive_ratio", …}.

    .venv/bin/python bench/allocation.py [--records N] [--contributors M]

Building the data is not timed: contributors, records and consents go in with bulk SQL, in the
columns and formats the importer writes (marketplace/catalog/importer.py). Freeze, allocation and
check run in one child process, whose RSS high-water mark is the peak memory reported.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PRAGMAS, mark_scanned, migrated_app, peak_mb, run_child  # noqa: E402
from sqlalchemy import event  # noqa: E402

OPT_IN = frozenset({"FR", "DE", "GB", "KR"})
NAIVE_CONTRIBUTORS = 50_000
GROSS, FEE_BPS, SHARE_BPS = 987_654_321, 500, 5000
PAID_AT = datetime(2030, 1, 1)
FILLER = "the quick brown fox jumps over the lazy dog while the platform keeps its archive tidy"

# One contributor per index i: a fifth of them in regions that require opt-in.
CONTRIBUTORS_SQL = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :last)
INSERT INTO contributors (id, platform_id, external_id, region, created_at)
SELECT :first + i, :platform_id, printf('user-%07d', i),
       CASE i % 20 WHEN 0 THEN 'FR' WHEN 1 THEN 'DE' WHEN 2 THEN 'GB' WHEN 3 THEN 'KR'
                   WHEN 4 THEN 'BR' WHEN 5 THEN 'IN' WHEN 6 THEN 'JP' ELSE 'US' END,
       '2024-01-01 00:00:00.000000'
FROM n"""

# Every contributor gets one record; the rest go to a skewed few (quota ∝ u², u uniform), so
# weights run from 1 to thousands. Text of 40-110 bytes; timestamps in the importer's format.
RECORDS_SQL = """
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :last),
hashed AS (SELECT i, ((i * 2654435761) % 4294967296) / 4294967296.0 AS u FROM n)
INSERT INTO records (dataset_id, external_id, contributor_id, text, created_at, tokens, added_rev,
                     modified_rev)
SELECT :dataset_id, printf('post-%09d', i),
       :first + CASE WHEN i < :contributors THEN i ELSE CAST(u * u * :contributors AS INTEGER) END,
       printf('post %d: %s', i, substr(:filler, 1, 30 + i % 60)),
       printf('%s.%06d', datetime(1704067200 + (i * 37) % 31536000, 'unixepoch'), (i * 7) % 1000000),
       6 + i % 17, 1, 1
FROM hashed"""

# Consent decisions, so eligibility has real work to do (paid at 2030-01-01):
CONSENTS_SQL = [
    # half the opt-in-region contributors granted everything, platform-wide …
    "SELECT id, NULL, '*', 'granted', '2024-06-01 00:00:00.000000' FROM contributors "
    "WHERE platform_id = :platform_id AND region IN ('FR', 'DE', 'GB', 'KR') AND id % 2 = 0",
    # … and a fifth of those later withdrew ai-train for this dataset (more specific: wins);
    "SELECT id, :dataset_id, 'ai-train', 'withdrawn', '2025-01-01 00:00:00.000000' FROM contributors "
    "WHERE platform_id = :platform_id AND region IN ('FR', 'DE', 'GB', 'KR') AND id % 10 = 0",
    # some others withdrew everything, and half of those granted again later (the latest wins);
    "SELECT id, NULL, '*', 'withdrawn', '2024-03-01 00:00:00.000000' FROM contributors "
    "WHERE platform_id = :platform_id AND region = 'US' AND id % 97 = 0",
    "SELECT id, NULL, '*', 'granted', '2024-09-01 00:00:00.000000' FROM contributors "
    "WHERE platform_id = :platform_id AND region = 'US' AND id % 194 = 0",
    # decisions after the payment don't count.
    "SELECT id, :dataset_id, 'ai-train', 'withdrawn', '2031-01-01 00:00:00.000000' FROM contributors "
    "WHERE platform_id = :platform_id AND id % 89 = 0",
]


def connect(db_path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(db_path, isolation_level=None)
    for pragma in PRAGMAS:
        connection.execute(pragma)
    return connection


def make_dataset(app, slug: str) -> tuple[int, int]:
    """A platform (sign-up) and a draft dataset, through the services, as the product makes them."""
    from marketplace.accounts import services as accounts
    from marketplace.catalog import services
    from marketplace.catalog.schemas import DatasetCreateSchema
    from marketplace.extensions import db

    with app.app_context():
        platform, _user, _key = accounts.sign_up(db.session, "platform", f"Bench {slug}",
                                                 f"{slug}@example.test", "long enough password")
        fields = DatasetCreateSchema().load({
            "slug": slug, "title": f"Bench {slug}", "content_kind": "post", "languages": ["en"],
            "consent_policy": "opt_out", "weighting": "records"})
        dataset = services.create_dataset(db.session, platform.id, fields)
        db.session.commit()
        return platform.id, dataset.id


def fill(db_path: Path, platform_id: int, dataset_id: int, records: int, contributors: int) -> None:
    """Contributors, records (as one import, revision 1) and consent decisions, in bulk SQL."""
    if records < contributors:
        raise SystemExit("--records must be at least --contributors (each contributor has a record)")
    connection = connect(db_path)
    connection.execute("BEGIN")
    first = connection.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM contributors").fetchone()[0]
    connection.execute(CONTRIBUTORS_SQL, {"last": contributors - 1, "first": first, "platform_id": platform_id})
    connection.execute(RECORDS_SQL, {"last": records - 1, "first": first, "dataset_id": dataset_id,
                                     "contributors": contributors, "filler": FILLER})
    connection.execute("UPDATE datasets SET revision = 1 WHERE id = ?", (dataset_id,))
    for decisions in CONSENTS_SQL:
        connection.execute(
            "INSERT INTO consents (contributor_id, dataset_id, scope, status, at, platform_id, source) "
            f"SELECT *, :platform_id, 'bench' FROM ({decisions})",
            {"platform_id": platform_id, "dataset_id": dataset_id})
    connection.execute("COMMIT")  # no ANALYZE: the product never runs it, so plans are as in production
    connection.close()


def child_build(db_path: Path, records: int, contributors: int) -> dict:
    app = migrated_app(db_path)
    started = time.perf_counter()
    platform_id, dataset_id = make_dataset(app, "big")
    fill(db_path, platform_id, dataset_id, records, contributors)
    naive_platform, naive_dataset = make_dataset(app, "slice")
    fill(db_path, naive_platform, naive_dataset, NAIVE_CONTRIBUTORS * 4, NAIVE_CONTRIBUTORS)
    connection = connect(db_path)
    consents = connection.execute("SELECT COUNT(*) FROM consents").fetchone()[0]
    connection.close()
    return {"dataset_id": dataset_id, "naive_dataset_id": naive_dataset, "consents": consents,
            "build_seconds": time.perf_counter() - started}


def facts(dataset_id: int, version_id: int, key: str):
    from marketplace.allocation.services import PaymentFacts

    return PaymentFacts(key=key, dataset_id=dataset_id, version_ids=(version_id,), scopes=("ai-train",),
                        gross=GROSS, currency="usd", contributor_share_bps=SHARE_BPS, paid_at=PAID_AT)


def statement_part(statement: str) -> str:
    """Which part of the allocation (SQLite's path) a statement is, by its text."""
    flat = " ".join(statement.split())  # the ORM's statements break lines
    if flat.startswith("CREATE TEMP TABLE"):
        return "eligibility"
    if flat.startswith("WITH lines AS"):  # reads the eligible lines' temporary table
        return "lines written" if " INSERT INTO ledger_entries " in flat else "cut-off"
    # posting.seal: the entries counted, then the sealing row, whose trigger reads them once more.
    if flat.startswith(("SELECT count(*) AS count_1 FROM ledger_entries", "INSERT INTO ledger_seals")):
        return "seal"
    return "other"


@contextmanager
def statement_times(engine):
    """Seconds spent in the allocation's statements, by `statement_part`; the caller adds the
    commit's."""
    parts: dict[str, float] = defaultdict(float)
    started: list[float] = []

    def before(_conn, _cursor, _statement, _parameters, _context, _executemany):
        started.append(time.perf_counter())

    def after(_conn, _cursor, statement, _parameters, _context, _executemany):
        parts[statement_part(statement)] += time.perf_counter() - started.pop()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield parts
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def child_allocate(db_path: Path, dataset_id: int) -> dict:
    """Freeze, allocate and check, timed apart; peak memory of this process up to the allocation."""
    from sqlalchemy import func, select

    from marketplace.allocation.models import Allocation
    from marketplace.allocation.reversal import reverse_to
    from marketplace.allocation.services import allocate_payment
    from marketplace.catalog.models import Dataset
    from marketplace.catalog.versions import freeze_version
    from marketplace.db import begin_immediate
    from marketplace.extensions import db
    from marketplace.ledger.check import run_check
    from marketplace.ledger.models import LedgerEntry

    app = migrated_app(db_path)
    with app.app_context():
        mark_scanned(db.session, dataset_id)  # set-up, not timed: the freeze needs it (see _common)
        db.session.commit()
        begin_immediate(db.session)
        started = time.perf_counter()
        version = freeze_version(db.session, db.session.get(Dataset, dataset_id))
        db.session.commit()
        freeze_seconds = time.perf_counter() - started
        version_id, contributors = version.id, version.contributor_count
        db.session.close()

        begin_immediate(db.session)
        started = time.perf_counter()
        with statement_times(db.engine) as parts:
            allocation = allocate_payment(db.session, facts(dataset_id, version_id, "payment:bench"),
                                          fee_bps=FEE_BPS, opt_in_regions=OPT_IN)
            credits, unallocated = allocation.eligible_count, allocation.unallocated
            committing = time.perf_counter()
            db.session.commit()
            parts["commit"] += time.perf_counter() - committing
        seconds = time.perf_counter() - started
        peak = peak_mb()
        db.session.close()

        check = run_check(db.session)
        db.session.rollback()
        peak_with_check = peak_mb()

        # A partial refund recomputes every line against the smaller pool (not part of the figures
        # above; `ledger check` ran before it).
        begin_immediate(db.session)
        allocation = db.session.scalar(select(Allocation).where(Allocation.payment_key == "payment:bench"))
        started = time.perf_counter()
        refund = reverse_to(db.session, allocation, GROSS // 3, key="refund:bench")
        db.session.commit()
        refund_seconds = time.perf_counter() - started
        changed = db.session.scalar(select(func.count()).select_from(LedgerEntry)
                                    .where(LedgerEntry.transaction_id == refund.id))
    return {"freeze_seconds": freeze_seconds, "seconds": seconds, "parts": dict(parts), "credits": credits,
            "contributors": contributors, "unallocated": unallocated, "peak_mb": peak,
            "balanced": check.balanced, "violations": check.violations, "check_seconds": check.seconds,
            "check_entries": check.entries, "peak_mb_with_check": peak_with_check,
            "refund_seconds": refund_seconds, "refund_entries": changed, "version_id": version_id}


def child_naive(db_path: Path, dataset_id: int) -> dict:
    """The real allocation on the slice, then the way not to do it over the same eligible set:
    weights read into Python, shares computed there, one ORM object per contributor. Both must
    give every contributor the same amount."""
    from sqlalchemy import select

    from marketplace.allocation.reversal import contributor_amounts
    from marketplace.allocation.services import allocate_payment
    from marketplace.allocation.split import largest_remainder, split
    from marketplace.catalog.models import Dataset
    from marketplace.catalog.versions import freeze_version
    from marketplace.consent.eligibility import EligibilityQuestion, bind, eligible_sql
    from marketplace.db import begin_immediate
    from marketplace.extensions import db
    from marketplace.ledger import posting
    from marketplace.ledger.models import MARKETPLACE, LedgerEntry

    app = migrated_app(db_path)
    with app.app_context():
        mark_scanned(db.session, dataset_id)  # set-up (see _common)
        db.session.commit()
        version = freeze_version(db.session, db.session.get(Dataset, dataset_id))
        db.session.commit()
        version_id = version.id
        db.session.close()

        begin_immediate(db.session)
        started = time.perf_counter()
        allocation = allocate_payment(db.session, facts(dataset_id, version_id, "payment:real-slice"),
                                      fee_bps=FEE_BPS, opt_in_regions=OPT_IN)
        db.session.commit()
        real = time.perf_counter() - started
        real_amounts = contributor_amounts(db.session, allocation)
        db.session.close()

        begin_immediate(db.session)
        started = time.perf_counter()
        dataset = db.session.get(Dataset, dataset_id)
        question = EligibilityQuestion(
            dataset_id=dataset.id, platform_id=dataset.platform_id, consent_policy=dataset.consent_policy,
            weighting=dataset.weighting, version_ids=(version_id,), scopes=("ai-train",), at=PAID_AT,
            opt_in_regions=OPT_IN)
        prefix, params = eligible_sql(question)
        rows = db.session.execute(bind(prefix + " SELECT contributor_id, weight, tiebreak FROM eligible"),
                                  params).all()
        fee, to_platform, pool = split(GROSS, FEE_BPS, SHARE_BPS)
        amounts = largest_remainder(pool, [(tiebreak, weight) for _id, weight, tiebreak in rows])
        opened = posting.open_transaction(db.session, key="payment:naive-slice", payload={}, kind="allocation")
        for (contributor_id, weight, tiebreak), amount in zip(rows, amounts, strict=True):
            db.session.add(LedgerEntry(transaction_id=opened.transaction.id, account="contributor_payable",
                                       owner_id=contributor_id, currency="usd", amount=amount, weight=weight,
                                       tiebreak=tiebreak))
        db.session.flush()
        posting.add_entries(db.session, opened.transaction.id, "usd", [
            ("payment_clearing", MARKETPLACE, -GROSS), ("marketplace_fees", MARKETPLACE, fee),
            ("platform_payable", dataset.platform_id, to_platform)])
        posting.seal(db.session, opened.transaction.id)
        db.session.commit()
        naive = time.perf_counter() - started
        naive_amounts = dict(db.session.execute(
            select(LedgerEntry.owner_id, LedgerEntry.amount)
            .where(LedgerEntry.transaction_id == opened.transaction.id,
                   LedgerEntry.account == "contributor_payable")).all())
    return {"real_seconds": real, "naive_seconds": naive, "contributors": len(rows),
            "same_amounts": naive_amounts == real_amounts}


def child_floor(db_path: Path, dataset_id: int) -> dict:
    """The bare minimum: one row per contributor from a GROUP BY over the records, best of two."""
    connection = connect(db_path)
    best = float("inf")
    for attempt in range(2):
        connection.execute(f"CREATE TABLE floor_{attempt} (contributor_id INTEGER, record_count INTEGER)")
        started = time.perf_counter()
        connection.execute("BEGIN")
        connection.execute(f"INSERT INTO floor_{attempt} SELECT contributor_id, COUNT(*) FROM records "
                           "WHERE dataset_id = ? GROUP BY contributor_id", (dataset_id,))
        connection.execute("COMMIT")
        best = min(best, time.perf_counter() - started)
    rows = connection.execute("SELECT COUNT(*) FROM floor_0").fetchone()[0]
    return {"seconds": best, "rows": rows}


def child_entries_floor(db_path: Path, version_id: int, rows: int) -> dict:
    """For context: the bare cost of the allocation's writes alone, as many rows as it credited,
    from the version's weights into a copy of ledger_entries with the same indexes."""
    connection = connect(db_path)
    connection.execute("CREATE TABLE floor_entries AS SELECT * FROM ledger_entries WHERE 0")
    for (sql,) in connection.execute("SELECT sql FROM sqlite_master WHERE type = 'index' "
                                     "AND tbl_name = 'ledger_entries' AND sql IS NOT NULL").fetchall():
        connection.execute(sql.replace("INDEX ix_", "INDEX floor_ix_").replace("ON ledger_entries", "ON floor_entries"))
    started = time.perf_counter()
    connection.execute("BEGIN")
    rows = connection.execute(
        "INSERT INTO floor_entries (transaction_id, account, owner_id, currency, amount, weight, tiebreak) "
        "SELECT 1, 'contributor_payable', vc.contributor_id, 'usd', vc.record_count, vc.record_count, "
        "k.external_id FROM version_contributors vc JOIN contributors k ON k.id = vc.contributor_id "
        "WHERE vc.version_id = ? LIMIT ?", (version_id, rows)).rowcount
    connection.execute("COMMIT")
    return {"seconds": time.perf_counter() - started, "rows": rows}


CHILDREN = {"build": child_build, "allocate": child_allocate, "naive": child_naive, "floor": child_floor,
            "entries_floor": child_entries_floor}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000_000)
    parser.add_argument("--contributors", type=int, default=1_000_000)
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, db_path, *rest = args.child
        print(json.dumps(CHILDREN[kind](Path(db_path), *[int(value) for value in rest])))
        return
    script = Path(__file__)
    with tempfile.TemporaryDirectory(prefix="dividend-bench-") as folder:
        db_path = str(Path(folder) / "alloc.sqlite3")
        built = run_child(script, "build", db_path, str(args.records), str(args.contributors))
        print(f"built {args.records:,} records from {args.contributors:,} contributors, "
              f"{built['consents']:,} consent decisions, in {built['build_seconds']:.0f} s (not timed)", flush=True)
        floor = run_child(script, "floor", db_path, str(built["dataset_id"]))
        print(f"floor (bare INSERT … SELECT … GROUP BY over the records, {floor['rows']:,} rows): "
              f"{floor['seconds']:.2f} s", flush=True)
        allocated = run_child(script, "allocate", db_path, str(built["dataset_id"]))
        entries_floor = run_child(script, "entries_floor", db_path, str(allocated["version_id"]),
                                  str(allocated["credits"]))
        naive = run_child(script, "naive", db_path, str(built["naive_dataset_id"]))
    credits_per_s = allocated["credits"] / allocated["seconds"]
    ratio = allocated["seconds"] / floor["seconds"]
    naive_ratio = naive["naive_seconds"] / naive["real_seconds"]
    print(f"freeze (weights, counts, sha256 of the canonical export): {allocated['freeze_seconds']:.2f} s")
    print(f"allocation (eligibility, split, lines = ledger entries, seal, commit): {allocated['seconds']:.2f} s "
          f"for {allocated['credits']:,} credits of {allocated['contributors']:,} contributors, "
          f"{credits_per_s:,.0f} credits/s, {ratio:.2f}x the floor")
    parts = allocated["parts"]
    print("  of which: " + ", ".join(f"{name} {parts[name]:.2f} s" for name in (
        "eligibility", "cut-off", "lines written", "seal", "commit", "other") if name in parts))
    print(f"peak memory (freeze + allocation): {allocated['peak_mb']:.0f} MB "
          f"({allocated['peak_mb_with_check']:.0f} MB after the check)")
    print(f"  for context, the same number of rows written bare ({entries_floor['rows']:,} from the frozen "
          f"weights into a copy of ledger_entries with its indexes): {entries_floor['seconds']:.2f} s; "
          f"the allocation is {allocated['seconds'] / entries_floor['seconds']:.2f}x that")
    print(f"ledger check: {'balanced' if allocated['balanced'] else allocated['violations']} "
          f"over {allocated['check_entries']:,} entries in {allocated['check_seconds']:.2f} s")
    print(f"a partial refund afterwards (every line recomputed, {allocated['refund_entries']:,} entries): "
          f"{allocated['refund_seconds']:.2f} s")
    print(f"naive (ORM object per contributor) on {naive['contributors']:,} credits: "
          f"{naive['naive_seconds']:.2f} s vs {naive['real_seconds']:.2f} s set-based: {naive_ratio:.1f}x, "
          f"{'same' if naive['same_amounts'] else 'DIFFERENT'} amounts")
    if not (allocated["balanced"] and naive["same_amounts"]):
        print("FAILED: the ledger check found violations, or the naive and real amounts differ", file=sys.stderr)
    print(json.dumps({
        "freeze_seconds": round(allocated["freeze_seconds"], 2), "seconds": round(allocated["seconds"], 2),
        "credits_per_s": round(credits_per_s), "ratio_to_floor": round(ratio, 3),
        "peak_mb": round(allocated["peak_mb"], 1), "naive_ratio": round(naive_ratio, 2),
        "floor_seconds": round(floor["seconds"], 2), "check_seconds": round(allocated["check_seconds"], 2),
        "entries_floor_seconds": round(entries_floor["seconds"], 2),
        "parts_seconds": {name: round(value, 2) for name, value in allocated["parts"].items()},
        "refund_seconds": round(allocated["refund_seconds"], 2),
        "balanced": allocated["balanced"], "records": args.records, "contributors": args.contributors,
        "credits": allocated["credits"],
    }))
    if not (allocated["balanced"] and naive["same_amounts"]):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
