"""Invariant 8: on PostgreSQL, 20 threads posting against the same accounts, with replays."""
from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from marketplace.accounts import services as accounts
from marketplace.catalog import importer, services, versions
from marketplace.config import normalize_database_url
from marketplace.ledger import posting
from marketplace.ledger.allocation import PaymentFacts, allocate_payment
from marketplace.ledger.check import run_check
from marketplace.ledger.models import MARKETPLACE

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(os.environ.get("DIVIDEND_TEST_BACKEND") != "postgresql",
                       reason="row locks and concurrent writers are PostgreSQL's; SQLite has one writer"),
]
THREADS, ROUNDS = 20, 15
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def engine():
    """A schema of its own, migrated, whose commits are real (no rolled-back transaction)."""
    base = normalize_database_url(os.environ["DIVIDEND_TEST_DATABASE_URL"])
    schema = f"concurrency_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    flask = str(Path(sys.executable).with_name("flask"))
    subprocess.run([flask, "--app", "app", "db", "upgrade"], check=True, capture_output=True, cwd=ROOT,
                   env={**os.environ, "DIVIDEND_DATABASE_URL": url})
    engine = sa.create_engine(url, pool_size=THREADS + 2)
    yield engine
    engine.dispose()
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.dispose()


def setup_dataset(engine):
    with Session(engine) as session:
        platform, _user, _key = accounts.sign_up(session, "platform", "Busy Forum", "busy@example.test",
                                                 "long enough password")
        dataset = services.create_dataset(session, platform.id, {
            "slug": "busy", "title": "Busy dataset", "summary": "", "description": "", "content_kind": "post",
            "languages": ["en"], "tags": [], "consent_policy": "opt_out", "weighting": "records"})
        importer.import_records(session, dataset, (
            (i, {"external_id": f"r{i}", "contributor": {"external_id": f"u{i % 50}", "region": "US"},
                 "text": "x", "created_at": "2024-01-01T00:00:00Z"}) for i in range(1, 501)))
        version = versions.freeze_version(session, dataset)
        session.commit()
        return platform.id, dataset.id, version.id


def test_twenty_threads_post_each_key_once_and_end_balanced(engine):
    platform_id, dataset_id, version_id = setup_dataset(engine)
    post_keys = [f"fee:{n}" for n in range(60)]
    payment_keys = [f"payment:pi_{n}" for n in range(12)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        barrier.wait()
        for _ in range(ROUNDS):
            with Session(engine) as session:
                try:
                    if rng.random() < 0.7:
                        key = rng.choice(post_keys)  # many threads pick the same keys: replays
                        amount = int(key.split(":")[1]) + 1
                        posting.post_transaction(session, key=key, kind="fee", currency="usd", entries=[
                            ("payment_clearing", MARKETPLACE, -amount), ("marketplace_fees", MARKETPLACE, amount // 2),
                            ("platform_payable", platform_id, amount - amount // 2)])
                    else:
                        key = rng.choice(payment_keys)
                        allocate_payment(session, PaymentFacts(
                            key=key, dataset_id=dataset_id, version_ids=(version_id,), scopes=("ai-train",),
                            gross=10_000 + int(key.rsplit("_", 1)[1]), currency="usd",
                            contributor_share_bps=5000, paid_at=datetime(2030, 1, 1)),
                            fee_bps=500, opt_in_regions=frozenset())
                    session.commit()
                except BaseException as error:  # noqa: BLE001 — every failure fails the test below
                    session.rollback()
                    errors.append(error)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a writer hung: deadlock?"
    assert errors == []
    with Session(engine) as session:
        keys = session.execute(sa.text(
            "SELECT idempotency_key, COUNT(*) FROM ledger_transactions GROUP BY 1")).all()
        assert all(count == 1 for _key, count in keys)
        posted = {key for key, _count in keys}
        fees = session.execute(sa.text(
            "SELECT COALESCE(SUM(amount), 0) FROM ledger_entries e JOIN ledger_transactions t "
            "ON t.id = e.transaction_id WHERE t.kind = 'fee' AND e.account = 'marketplace_fees'")).scalar()
        assert fees == sum((int(key.split(":")[1]) + 1) // 2 for key in posted if key.startswith("fee:"))
        allocations = session.execute(sa.text("SELECT COUNT(*) FROM allocations")).scalar()
        assert allocations == len([key for key in posted if key.startswith("payment:")])
        result = run_check(session)
        assert result.balanced, result.violations
