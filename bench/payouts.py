"""A payout run for 100,000 payees (SQLite, batch provider): reserve every payable, then import
the processor's results (all paid), timed end to end, against a floor measured in the same run (a
bare executemany of the same number of ledger entries into a table shaped like ledger_entries).
Last line: {"payouts_per_s", "ledger_share", "ratio_to_floor", …}.

    .venv/bin/python bench/payouts.py [--payees 100000] [--batch 5000]

Setup, not timed: one platform, `--payees` contributors each claimed by their own account with a
ready batch payout account, and one balanced, sealed transaction crediting each contributor's
payable 100–10,099 minor units (bulk SQL). Timed: `payouts.runner.run` (the run's row, then
reservation batches of `--batch`, each one committed transaction: the payouts inserted by one
INSERT … SELECT over the payables' balances, then one ledger transaction per payout keyed
`payout:{id}:reserve`, written set-based) and `batch.import_results` over the results CSV (one
transaction: status updates and one `payout:{id}:paid` transaction per payout). `ledger_share`
is the time spent writing ledger rows (payouts.postings.post_many) over the total. `ledger check`
runs at the end (not timed) and must pass.
"""
from __future__ import annotations

import argparse
import json
import random
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PRAGMAS, migrated_app  # noqa: E402

FORMAT = "%Y-%m-%d %H:%M:%S.%f"
#: Ledger rows a payout writes per step: a transaction, two entries, a seal; reserve and paid.
ENTRIES_PER_PAYOUT = 4


def setup(db_path: Path, payees: int, seed: int) -> int:
    """The payees, their accounts and payables, in bulk SQL; returns the payables' total."""
    rng = random.Random(seed)
    now = time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime())
    connection = sqlite3.connect(db_path, isolation_level=None)
    for pragma in PRAGMAS:
        connection.execute(pragma)
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("INSERT INTO organizations (id, kind, name, slug, created_at) "
                       "VALUES (1, 'platform', 'Bench Co', 'bench-co', ?)", (now,))
    connection.executemany(
        "INSERT INTO users (id, email, password_hash, role, created_at) VALUES (?, ?, 'x', 'contributor', ?)",
        ((n, f"payee{n}@example.test", now) for n in range(1, payees + 1)))
    connection.executemany(
        "INSERT INTO contributors (id, platform_id, external_id, region, user_id, claimed_at, created_at) "
        "VALUES (?, 1, ?, 'US', ?, ?, ?)", ((n, f"c{n:07d}", n, now, now) for n in range(1, payees + 1)))
    connection.executemany(
        "INSERT INTO payout_accounts (user_id, provider, status, email, stripe_payouts_enabled, created_at, "
        "updated_at) VALUES (?, 'batch', 'ready', ?, 0, ?, ?)",
        ((n, f"payee{n}@paypal.test", now, now) for n in range(1, payees + 1)))
    amounts = [rng.randrange(100, 10_100) for _ in range(payees)]
    connection.execute("INSERT INTO ledger_transactions (id, idempotency_key, request_hash, kind, memo, created_at) "
                       "VALUES (1, 'bench:earnings', 'bench', 'bench', '{}', ?)", (now,))
    connection.execute("INSERT INTO ledger_entries (transaction_id, account, owner_id, currency, amount) "
                       "VALUES (1, 'payment_clearing', 0, 'usd', ?)", (-sum(amounts),))
    connection.executemany(
        "INSERT INTO ledger_entries (transaction_id, account, owner_id, currency, amount) "
        "VALUES (1, 'contributor_payable', ?, 'usd', ?)", ((n, amount) for n, amount in enumerate(amounts, 1)))
    connection.execute("INSERT INTO ledger_seals (transaction_id, entry_count) VALUES (1, ?)", (payees + 1,))
    connection.execute("COMMIT")
    connection.close()
    return sum(amounts)


def floor_seconds(db_path: Path, entries: int) -> float:
    """A bare executemany of `entries` rows shaped like ledger entries, in one transaction."""
    connection = sqlite3.connect(db_path, isolation_level=None)
    for pragma in PRAGMAS:
        connection.execute(pragma)
    connection.execute("CREATE TABLE floor_entries (id INTEGER PRIMARY KEY, transaction_id INTEGER NOT NULL, "
                       "account VARCHAR(24) NOT NULL, owner_id BIGINT NOT NULL, currency VARCHAR(3) NOT NULL, "
                       "amount BIGINT NOT NULL)")
    rows = [(n // 2, "payouts_in_transit", n, "usd", n + 1) for n in range(entries)]
    started = time.perf_counter()
    connection.execute("BEGIN IMMEDIATE")
    connection.executemany("INSERT INTO floor_entries (transaction_id, account, owner_id, currency, amount) "
                           "VALUES (?, ?, ?, ?, ?)", rows)
    connection.execute("COMMIT")
    seconds = time.perf_counter() - started
    connection.execute("DROP TABLE floor_entries")
    connection.close()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--payees", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db_path = Path(folder) / "payouts.sqlite3"
        app = migrated_app(db_path)
        owed = setup(db_path, args.payees, args.seed)
        print(f"setup: {args.payees:,} payees owed {owed:,} minor units", file=sys.stderr)

        from sqlalchemy import select

        from marketplace.boundary import unit_of_work
        from marketplace.extensions import db
        from marketplace.ledger.check import run_check
        from marketplace.payouts import batch, outcomes, runner, services
        from marketplace.payouts.models import Payout

        in_ledger = {"seconds": 0.0}
        real_post_many = services.post_many

        def timed_post_many(*a, **kw):
            started = time.perf_counter()
            try:
                return real_post_many(*a, **kw)
            finally:
                in_ledger["seconds"] += time.perf_counter() - started

        services.post_many = outcomes.post_many = timed_post_many
        with app.app_context():
            started, cpu_started = time.perf_counter(), time.process_time()
            outcome = runner.run(started_by="bench", batch=args.batch)
            reserved_at = time.perf_counter()
            ids = unit_of_work(lambda: list(db.session.scalars(
                select(Payout.id).where(Payout.run_id == outcome.run_id))), write=False)
            results = "payout_id,status\n" + "".join(f"{payout_id},paid\n" for payout_id in ids)
            counts = unit_of_work(lambda: batch.import_results(db.session, outcome.run_id, results))
            finished, cpu = time.perf_counter(), time.process_time() - cpu_started
            check = unit_of_work(lambda: run_check(db.session), write=False)
            paid_out = unit_of_work(lambda: int(db.session.execute(db.text(
                "SELECT COALESCE(SUM(amount), 0) FROM ledger_entries WHERE account = 'paid_out'")).scalar()),
                write=False)
        assert outcome.reserved == args.payees and counts["paid"] == args.payees, (outcome, counts)
        assert paid_out == owed and check.balanced, (paid_out, owed, check.violations)
        total = finished - started
        floor = floor_seconds(db_path, args.payees * ENTRIES_PER_PAYOUT)
    figures = {
        "payees": args.payees, "batch": args.batch,
        "reserve_seconds": round(reserved_at - started, 3), "settle_seconds": round(finished - reserved_at, 3),
        "total_seconds": round(total, 3), "ledger_seconds": round(in_ledger["seconds"], 3),
        "floor_seconds": round(floor, 3), "floor_rows": args.payees * ENTRIES_PER_PAYOUT,
        "payouts_per_s": round(args.payees / total), "ledger_share": round(in_ledger["seconds"] / total, 3),
        "ratio_to_floor": round(total / floor, 2), "balanced": check.balanced, "goal_payouts_per_s": 5_000,
        # This process's CPU seconds over the same span: on a shared machine the wall clock also
        # counts the time other processes held the cores.
        "cpu_seconds": round(cpu, 3), "cpu_payouts_per_s": round(args.payees / cpu),
    }
    print(f"{args.payees:,} payouts reserved in {figures['reserve_seconds']} s and settled in "
          f"{figures['settle_seconds']} s: {figures['payouts_per_s']:,} payouts/s; ledger writes "
          f"{figures['ledger_share']:.0%} of the time; floor ({figures['floor_rows']:,} bare entry inserts) "
          f"{figures['floor_seconds']} s, ratio {figures['ratio_to_floor']}; CPU {figures['cpu_seconds']} s "
          f"({figures['cpu_payouts_per_s']:,} payouts per CPU second)")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
