"""The contributor's statement page with 5,000 lines (SQLite): GET /me/statement timed through the
test client, logged in as the contributor, against a floor measured in the same run (a logged-in
404 page: the request, the session's user and the base template, no statement query). Last line:
{"p50_ms", "p99_ms" (the slowest page scenario's), "goal_ms", "lines", "scenarios": {...}, …}.

    .venv/bin/python bench/statement.py [--lines 5000] [--requests 200]

Building the data is not timed. Three datasets, each sold once and refunded in part through the
services the webhook uses (create_license, mark_succeeded, settle, record_refunded_total), give
real allocations and reversals. They are then copied in bulk SQL, every column as the services
wrote it, with fresh ids, keys and licenses and later timestamps (about one every three hours,
so the chart spans months), until the contributor has `--lines` lines: an allocation copy per
line, and every tenth one its reversal too. Each copied transaction gets its seal, so the ledger
still balances (`ledger check` runs at the end and must say so).
"""
from __future__ import annotations

import argparse
import calendar
import json
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import PRAGMAS, mark_scanned, migrated_app  # noqa: E402

PASSWORD = "statement bench password"
ME = "me-0001"
DATASETS = ("bench-posts", "bench-replies", "bench-captions")
PRICE = 120_000
#: One allocation copy in REVERSED_EVERY also gets a copy of its reversal.
REVERSED_EVERY = 10
STEP = timedelta(hours=3)
FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # SQLAlchemy's DateTime on SQLite


def sales(app) -> int:
    """Platform, buyer, datasets, the contributor's account; one sale and one partial refund per
    dataset through the services. Returns the contributor's user id."""
    from sqlalchemy import select

    from marketplace.accounts import services as accounts
    from marketplace.accounts.models import User
    from marketplace.catalog import importer, offers, services, versions
    from marketplace.catalog.models import Contributor
    from marketplace.catalog.schemas import DatasetCreateSchema, OfferCreateSchema
    from marketplace.contributors.identities import link
    from marketplace.db import begin_immediate
    from marketplace.demo_history import paid_license
    from marketplace.extensions import db
    from marketplace.payments import services as payments

    with app.app_context():
        begin_immediate(db.session)
        platform, _u, _k = accounts.sign_up(db.session, "platform", "Bench Forum", "forum@example.test", PASSWORD)
        buyer, buyer_user, _k = accounts.sign_up(db.session, "buyer", "Bench Model Lab", "lab@example.test",
                                                 PASSWORD)
        for n, slug in enumerate(DATASETS):
            dataset = services.create_dataset(db.session, platform.id, DatasetCreateSchema().load({
                "slug": slug, "title": f"Bench {slug.split('-')[1]}", "content_kind": "post",
                "languages": ["en"], "consent_policy": "opt_out", "weighting": "records"}))
            people = [(ME, "US", 3)] + [(f"other-{i:04d}", "US", 1 + i % 4) for i in range(40)]
            lines = [{"external_id": f"{slug}-{person}-{k}", "contributor": {"external_id": person, "region": region},
                      "text": f"post {k} by {person} about bench things", "created_at": "2024-05-01T12:00:00Z"}
                     for person, region, count in people for k in range(count)]
            importer.import_records(db.session, dataset, enumerate(lines, 1))
            mark_scanned(db.session, dataset.id)
            versions.freeze_version(db.session, dataset)
            offer = offers.create_offer(db.session, dataset, OfferCreateSchema().load({
                "name": "Training", "scopes": [("ai-train", "ai-input", "ai-eval")[n]], "term_months": 12,
                "territory": ["*"], "exclusive": False, "billing": "one_time", "contributor_share_bps": 5000,
                "price": {"model": "flat", "amount": PRICE + 7 * n, "currency": "usd"}}))
            services.publish(db.session, dataset)
            _license, payment, _allocation = paid_license(buyer, buyer_user, offer.id, tag="bench")
            payments.record_refunded_total(db.session, payment, 30_001 + n, key=f"bench-refund:{payment.id}")
        user = accounts.create_user(db.session, "me@example.test", PASSWORD, role="contributor")
        link(db.session, db.session.scalar(select(Contributor).where(Contributor.external_id == ME)), user)
        db.session.commit()
        return db.session.scalar(select(User.id).where(User.email == "me@example.test"))


def rows(connection: sqlite3.Connection, sql: str, *params) -> list[dict]:
    cursor = connection.execute(sql, params)
    names = [c[0] for c in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def insert(connection: sqlite3.Connection, table: str, batch: list[dict]) -> None:
    if batch:
        names = list(batch[0])
        connection.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                               [tuple(row[n] for n in names) for row in batch])


def copy_sales(db_path: Path, lines: int) -> int:
    """Copy the real allocations (and every REVERSED_EVERY-th time their reversal) until the
    contributor has `lines` lines. Returns the lines they have."""
    connection = sqlite3.connect(db_path, isolation_level=None)
    for pragma in PRAGMAS:
        connection.execute(pragma)
    connection.execute("BEGIN IMMEDIATE")
    templates = rows(connection, "SELECT * FROM allocations ORDER BY id")
    licenses = {r["id"]: r for r in rows(connection, "SELECT * FROM licenses")}
    transactions = {r["id"]: r for r in rows(connection, "SELECT * FROM ledger_transactions")}
    entries: dict[int, list[dict]] = {}
    for entry in rows(connection, "SELECT * FROM ledger_entries ORDER BY id"):
        entries.setdefault(entry["transaction_id"], []).append(entry)
    # Each sale's refund (settle's catch-up reversal before it posted nothing: no entries).
    reversal_of = {t["allocation_id"]: t for t in transactions.values()
                   if t["allocation_id"] is not None and entries.get(t["id"])}
    ids = {table: connection.execute(f"SELECT COALESCE(MAX(id), 0) FROM {table}").fetchone()[0]
           for table in ("licenses", "ledger_transactions", "ledger_entries", "allocations")}
    when = max(datetime.strptime(t["created_at"], FORMAT) for t in transactions.values())
    have = len(templates) + len(reversal_of)  # the real ones: one line each for the contributor
    out: dict[str, list[dict]] = {"licenses": [], "ledger_transactions": [], "ledger_entries": [],
                                  "ledger_seals": [], "allocations": []}

    def post(source: dict, **changes) -> dict:
        ids["ledger_transactions"] += 1
        copy = {**source, "id": ids["ledger_transactions"], "created_at": when.strftime(FORMAT), **changes}
        out["ledger_transactions"].append(copy)
        for entry in entries[source["id"]]:
            ids["ledger_entries"] += 1
            out["ledger_entries"].append({**entry, "id": ids["ledger_entries"], "transaction_id": copy["id"]})
        out["ledger_seals"].append({"transaction_id": copy["id"], "entry_count": len(entries[source["id"]])})
        return copy

    n = 0
    while have < lines:
        n += 1
        when += STEP
        template = templates[n % len(templates)]
        ids["licenses"] += 1
        license = {**licenses[template["license_id"]], "id": ids["licenses"], "idempotency_key": None,
                   "request_hash": None}
        out["licenses"].append(license)
        key = f"payment:pi_bench_copy_{n}"
        posted = post(transactions[template["transaction_id"]], idempotency_key=key)
        ids["allocations"] += 1
        allocation = {**template, "id": ids["allocations"], "payment_key": key, "transaction_id": posted["id"],
                      "license_id": license["id"], "created_at": posted["created_at"],
                      "paid_at": posted["created_at"]}
        out["allocations"].append(allocation)
        have += 1
        if n % REVERSED_EVERY == 0 and have < lines:
            when += STEP
            post(reversal_of[template["id"]], idempotency_key=f"refund:bench_copy_{n}", reverses_id=posted["id"],
                 allocation_id=allocation["id"])
            have += 1
    # Parents first; each transaction's seal after its entries (the seal's trigger checks the sum).
    for table in ("licenses", "ledger_transactions", "ledger_entries", "ledger_seals", "allocations"):
        for row in out[table]:
            for column in ("terms", "memo", "version_ids", "scopes"):
                if isinstance(row.get(column), dict | list):
                    row[column] = json.dumps(row[column])
        insert(connection, table, out[table])
    connection.execute("COMMIT")
    connection.close()
    return have


def log_in(client) -> None:
    page = client.get("/login")
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page.data)
    form = {"email": "me@example.test", "password": PASSWORD}
    if token:  # CSRF is on, as in production
        form["csrf_token"] = token.group(1).decode()
    response = client.post("/login", data=form)
    assert response.status_code == 302, response.data[:500]


def timed(client, url: str, requests: int) -> dict:
    for _ in range(5):  # warm: template compilation, statement caches
        warm = client.get(url)
        assert warm.status_code in (200, 404) and warm.get_data() is not None
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = client.get(url)
        body = response.get_data()  # the whole body: a streamed one is made while it is read
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code in (200, 404), (url, response.status_code)
    times.sort()
    return {"url": url, "p50_ms": round(statistics.median(times), 2),
            "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2), "bytes": len(body)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=5_000)
    parser.add_argument("--requests", type=int, default=200)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db_path = Path(folder) / "statement.sqlite3"
        app = migrated_app(db_path)
        started = time.perf_counter()
        user_id = sales(app)
        lines = copy_sales(db_path, options.lines)
        build_seconds = time.perf_counter() - started

        from marketplace.contributors import statements
        from marketplace.extensions import db
        from marketplace.ledger.check import run_check

        with app.app_context():
            found = statements.statement(db.session, user_id, currency="usd", per_page=50)
            check = run_check(db.session)
            db.session.rollback()
        assert found.total == lines, (found.total, lines)
        pages = found.pages
        # A quarter of the months, from the middle of the history (the data's dates follow the clock).
        middle = found.months[len(found.months) // 3: len(found.months) // 3 + max(1, len(found.months) // 4)]
        year, month = (int(part) for part in middle[-1].month.split("-"))
        start, end = f"{middle[0].month}-01", f"{middle[-1].month}-{calendar.monthrange(year, month)[1]}"
        client = app.test_client()
        log_in(client)
        scenarios = {
            "first_page": timed(client, "/me/statement", options.requests),
            "dataset_filter": timed(client, f"/me/statement?dataset={DATASETS[1]}", options.requests),
            "late_page": timed(client, f"/me/statement?page={pages}", options.requests),
            "date_filter": timed(client, f"/me/statement?from={start}&to={end}", options.requests),
        }
        csv = timed(client, "/me/statement.csv", max(5, options.requests // 20))
        ledger_entry = timed(client, f"/me/ledger/{found.items[0].transaction_id}", options.requests)
        floor = timed(client, "/me/ledger/0", options.requests)  # a logged-in 404: no statement query
    for name, figures in {**scenarios, "csv_all_lines": csv, "ledger_entry": ledger_entry,
                          "floor_404": floor}.items():
        print(f"{name:>15}: p50 {figures['p50_ms']:7.2f} ms  p99 {figures['p99_ms']:7.2f} ms  "
              f"{figures['bytes']:,} bytes  {figures['url']}")
    slowest = max(scenarios.values(), key=lambda s: s["p99_ms"])
    print(json.dumps({
        "p50_ms": slowest["p50_ms"], "p99_ms": slowest["p99_ms"], "goal_ms": 200, "slowest": slowest["url"],
        "lines": lines, "pages": pages, "months": len(found.months), "lifetime": found.totals.lifetime.amount,
        "ratio_p50_to_floor": round(slowest["p50_ms"] / floor["p50_ms"], 2), "floor_p50_ms": floor["p50_ms"],
        "csv_p50_ms": csv["p50_ms"], "ledger_entry_p50_ms": ledger_entry["p50_ms"],
        "scenarios": {name: {"p50_ms": s["p50_ms"], "p99_ms": s["p99_ms"]} for name, s in scenarios.items()},
        "balanced": check.balanced, "build_seconds": round(build_seconds, 2), "requests": options.requests,
    }))


if __name__ == "__main__":
    main()
