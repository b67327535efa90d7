"""The public transparency report of a dataset whose payments were shared among many contributors,
against a floor measured in the same run: a bare sqlite3 read of every contributor line of those
payments, summed per contributor (the report's histogram and `contributors_paid` need no less).

    .venv/bin/python bench/transparency.py [--records N] [--contributors M] [--payments P] [--requests R]

The dataset is bench/allocation.py's (bulk SQL in the importer's formats, consent decisions of
every kind), frozen, offered, published and paid for P times through the allocation service, with
one partial refund. Then GET /api/v1/datasets/{slug}/transparency and the public page are timed R
times each through the test client, computing the report on every request (the cache off), then
the API again with the report kept between requests (marketplace/transparency/cache.py). Last line:
{"p50_ms", "p99_ms", "page_p50_ms", "cached_p50_ms", "floor_ms", "ratio_to_floor", …}; p50/p99 are
the API's, computing.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import mark_scanned, migrated_app, peak_mb  # noqa: E402
from allocation import FEE_BPS, GROSS, OPT_IN, connect, facts, fill, make_dataset  # noqa: E402

from marketplace.transparency.cache import ReportCache  # noqa: E402

SLUG = "big"


def build(db_path: Path, records: int, contributors: int, payments: int):
    """The dataset, published and paid for; returns (app, the payments' transaction ids)."""
    from sqlalchemy import select

    from marketplace.allocation.reversal import reverse_to
    from marketplace.allocation.services import allocate_payment
    from marketplace.catalog import offers, services
    from marketplace.catalog.models import Dataset
    from marketplace.catalog.schemas import OfferCreateSchema
    from marketplace.catalog.versions import freeze_version
    from marketplace.db import begin_immediate
    from marketplace.extensions import db
    from marketplace.ledger.models import LedgerTransaction

    app = migrated_app(db_path)
    platform_id, dataset_id = make_dataset(app, SLUG)
    fill(db_path, platform_id, dataset_id, records, contributors)
    with app.app_context():
        app.config["OPT_IN_REGIONS"] = OPT_IN
        begin_immediate(db.session)
        dataset = db.session.get(Dataset, dataset_id)
        mark_scanned(db.session, dataset_id)
        version = freeze_version(db.session, dataset)
        offers.create_offer(db.session, dataset, OfferCreateSchema().load({
            "name": "Training", "scopes": ["ai-train"], "term_months": 12, "territory": ["*"],
            "price": {"model": "flat", "amount": GROSS, "currency": "usd"}, "contributor_share_bps": 5000}))
        services.publish(db.session, dataset)
        db.session.commit()
        allocations = []
        for n in range(payments):
            begin_immediate(db.session)
            allocations.append(allocate_payment(db.session, facts(dataset_id, version.id, f"payment:bench-{n}"),
                                                fee_bps=FEE_BPS, opt_in_regions=OPT_IN))
            db.session.commit()
        begin_immediate(db.session)
        reverse_to(db.session, allocations[0], GROSS // 4, key="refund:bench")
        db.session.commit()
        transaction_ids = list(db.session.scalars(
            select(LedgerTransaction.id).where(
                LedgerTransaction.idempotency_key.like("payment:bench-%")
                | (LedgerTransaction.idempotency_key == "refund:bench"))))
    return app, transaction_ids


def floor_ms(db_path: Path, transaction_ids: list[int], rounds: int) -> tuple[float, int]:
    """Best of `rounds`: every contributor line of the payments, summed per contributor, fetched."""
    connection = connect(db_path)
    marks = ", ".join("?" * len(transaction_ids))
    sql = (f"SELECT owner_id, SUM(amount) FROM ledger_entries WHERE transaction_id IN ({marks}) "
           "AND account = 'contributor_payable' GROUP BY owner_id")
    best, rows = float("inf"), 0
    for _ in range(rounds):
        started = time.perf_counter()
        rows = len(connection.execute(sql, transaction_ids).fetchall())
        best = min(best, time.perf_counter() - started)
    lines = connection.execute(f"SELECT COUNT(*) FROM ledger_entries WHERE transaction_id IN ({marks}) "
                               "AND account = 'contributor_payable'", transaction_ids).fetchone()[0]
    connection.close()
    return best * 1000, lines if rows else 0


def timed(client, url: str, requests: int) -> list[float]:
    client.get(url)  # warm-up: the first request also compiles templates
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=2_000_000)
    parser.add_argument("--contributors", type=int, default=200_000)
    parser.add_argument("--payments", type=int, default=3)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dividend-bench-") as folder:
        db_path = Path(folder) / "transparency.sqlite3"
        started = time.perf_counter()
        app, transaction_ids = build(db_path, args.records, args.contributors, args.payments)
        print(f"built {args.records:,} records from {args.contributors:,} contributors, {args.payments} payments "
              f"and a partial refund in {time.perf_counter() - started:.0f} s (not timed)", flush=True)
        floor, lines = floor_ms(db_path, transaction_ids, rounds=5)
        print(f"floor (every contributor line of those payments summed per contributor, {lines:,} lines): "
              f"{floor:.0f} ms", flush=True)
        client = app.test_client()
        app.extensions["transparency_reports"] = ReportCache(0)
        api = timed(client, f"/api/v1/datasets/{SLUG}/transparency", args.requests)
        page = timed(client, f"/datasets/{SLUG}/transparency", max(3, args.requests // 4))
        app.extensions["transparency_reports"] = ReportCache(3600)
        cached = timed(client, f"/api/v1/datasets/{SLUG}/transparency", args.requests)
        report = client.get(f"/api/v1/datasets/{SLUG}/transparency").get_json()
    shares = sum(report[name]["amount"] for name in ("marketplace_fees", "to_platform", "to_contributors",
                                                    "unallocated"))
    adds_up = shares == report["gross"]["amount"]
    p50, p99 = statistics.median(api), percentile(api, 0.99)
    print(f"API: p50 {p50:.0f} ms, p99 {p99:.0f} ms over {len(api)} requests; "
          f"page: p50 {statistics.median(page):.0f} ms; {p50 / floor:.2f}x the floor")
    print(f"API with the report kept between requests: p50 {statistics.median(cached):.1f} ms")
    print(f"report (payments made without licenses: licenses_sold stays 0): gross {report['gross']['amount']:,}, "
          f"{report['contributors_paid']:,} contributors paid; the four shares "
          f"{'add up to' if adds_up else 'DO NOT add up to'} the gross")
    print(json.dumps({
        "p50_ms": round(p50, 1), "p99_ms": round(p99, 1), "page_p50_ms": round(statistics.median(page), 1),
        "cached_p50_ms": round(statistics.median(cached), 1),
        "floor_ms": round(floor, 1), "ratio_to_floor": round(p50 / floor, 2), "lines": lines,
        "contributors_paid": report["contributors_paid"], "adds_up": adds_up, "peak_mb": round(peak_mb(), 1),
        "records": args.records, "contributors": args.contributors, "payments": args.payments,
    }))
    if not adds_up:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
