"""Invariant 8, on PostgreSQL: 20 threads posting against the same accounts, with replays, end
balanced, with each key posted once and no deadlock.

Concurrent writers need real commits, so this test can't live in the rolled-back transaction: it
gets a schema of its own (tests/isolated.py), and each thread uses that app's `db.session` in its
own app context, as a request or a job would.
"""
from __future__ import annotations

import random
import threading
import time
import traceback
from datetime import datetime

import pytest
import sqlalchemy as sa

from marketplace.accounts import services as accounts
from marketplace.allocation.models import Allocation
from marketplace.allocation.reversal import reverse_to
from marketplace.allocation.services import PaymentFacts, allocate_payment
from marketplace.allocation.split import split
from marketplace.catalog import importer, services, versions
from marketplace.extensions import db
from marketplace.ledger import posting
from marketplace.ledger.check import run_check
from marketplace.ledger.models import MARKETPLACE
from tests import isolated
from tests.conftest import BACKEND

pytestmark = [
    pytest.mark.isolated_db,
    pytest.mark.skipif(BACKEND != "postgresql",
                       reason="concurrent writers with row and advisory locks are PostgreSQL's; "
                              "SQLite has one writer at a time"),
]
THREADS, ROUNDS = 20, 15
#: Every thread must be done by then; a deadlock PostgreSQL did not break would hang past it.
TIMEOUT = 120
FEE_KEYS = 40
PAYMENT_KEYS = 4
REFUNDS_PER_PAYMENT = 6
PAID_AT = datetime(2030, 1, 1)  # noqa: DTZ001 — naive UTC, as the database stores times


@pytest.fixture(scope="module")
def isolated_app(app):
    with isolated.isolated_app("ledger_threads", connections=THREADS + 2) as market:
        yield market


def setup_market(isolated) -> tuple[int, int, int, int]:
    """Two platforms and a frozen dataset of 50 contributors, committed."""
    with isolated.app_context():
        busy, _user, _key = accounts.sign_up(db.session, "platform", "Busy Forum", "busy@example.test",
                                             "long enough password")
        other, _user, _key = accounts.sign_up(db.session, "platform", "Other Forum", "other@example.test",
                                              "long enough password")
        dataset = services.create_dataset(db.session, busy.id, {
            "slug": "busy", "title": "Busy dataset", "summary": "", "description": "",
            "content_kind": "post", "languages": ["en"], "tags": [], "consent_policy": "opt_out",
            "weighting": "records"})
        importer.import_records(db.session, dataset, (
            (i, {"external_id": f"r{i}", "contributor": {"external_id": f"u{i % 50:02d}", "region": "US"},
                 "text": "x", "created_at": "2024-01-01T00:00:00Z"}) for i in range(1, 501)))
        version = versions.freeze_version(db.session, dataset)
        db.session.commit()
        return busy.id, other.id, dataset.id, version.id


def fee_entries(n: int, busy: int, other: int) -> list[tuple[str, int, int]]:
    """The same key always posts the same entries; keys overlap on every account, in varied orders."""
    amount = 1_000 + n
    platform = busy if n % 2 else other
    entries = [("payment_clearing", MARKETPLACE, -amount), ("marketplace_fees", MARKETPLACE, amount // 10),
               ("platform_payable", platform, amount - amount // 10)]
    return entries if n % 3 else list(reversed(entries))


def gross_of(n: int) -> int:
    return 10_000 + 37 * n


def refund_total(n: int, m: int) -> int:
    return min(gross_of(n), (m + 1) * 2_999)


def test_twenty_threads_post_each_key_once_and_end_balanced(isolated_app):
    busy, other, dataset_id, version_id = setup_market(isolated_app)
    barrier = threading.Barrier(THREADS)
    lock = threading.Lock()
    errors: list[str] = []
    done: list[tuple[str, str, bool]] = []  # (operation, key, replayed?)

    def facts(n: int) -> PaymentFacts:
        return PaymentFacts(key=f"payment:pi_{n}", dataset_id=dataset_id, version_ids=(version_id,),
                            scopes=("ai-train",), gross=gross_of(n), currency="usd",
                            contributor_share_bps=5000, paid_at=PAID_AT)

    def one_operation(rng: random.Random) -> tuple[str, str, bool]:
        roll = rng.random()
        if roll < 0.45:
            n = rng.randrange(FEE_KEYS)
            opened = posting.post_transaction(db.session, key=f"fee:{n}", kind="fee", currency="usd",
                                              entries=fee_entries(n, busy, other))
            return "post", f"fee:{n}", opened.replayed
        n = rng.randrange(PAYMENT_KEYS)
        allocation = db.session.scalar(sa.select(Allocation).where(Allocation.payment_key == f"payment:pi_{n}"))
        if roll < 0.6 or allocation is None:
            made = allocate_payment(db.session, facts(n), fee_bps=500, opt_in_regions=frozenset())
            assert made.payment_key == f"payment:pi_{n}"
            return "allocate", made.payment_key, allocation is not None
        m = rng.randrange(REFUNDS_PER_PAYMENT)
        key = f"refund:pi_{n}:{m}"
        spent = db.session.scalar(sa.text("SELECT COUNT(*) FROM ledger_transactions WHERE idempotency_key = :k"),
                                  {"k": key})
        reverse_to(db.session, allocation, refund_total(n, m), key=key)
        return "refund", key, bool(spent)

    def worker(seed: int) -> None:
        rng = random.Random(seed)
        try:
            barrier.wait(timeout=30)
        except threading.BrokenBarrierError:
            with lock:
                errors.append(f"thread {seed}: the barrier broke")
            return
        for _ in range(ROUNDS):
            with isolated_app.app_context():
                try:
                    outcome = one_operation(rng)
                    db.session.commit()
                except BaseException:  # noqa: BLE001 — every failure is reported by the test below
                    db.session.rollback()
                    with lock:
                        errors.append(f"thread {seed}:\n{traceback.format_exc()}")
                    continue
            with lock:
                done.append(outcome)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(seed,), daemon=True) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=max(0.0, TIMEOUT - (time.monotonic() - started)))
    assert not [t for t in threads if t.is_alive()], f"writers still running after {TIMEOUT} s: deadlock?"
    assert errors == [], "\n".join(errors[:3])
    assert len(done) == THREADS * ROUNDS
    assert any(replayed for _op, _key, replayed in done), "no replay happened: the test proves nothing"

    with isolated_app.app_context():
        keys = dict(db.session.execute(sa.text(
            "SELECT idempotency_key, COUNT(*) FROM ledger_transactions GROUP BY idempotency_key")).all())
        # Each key that some thread posted or replayed is in the ledger exactly once, and nothing else is.
        assert set(keys) == {key for _op, key, _replayed in done}
        assert set(keys.values()) == {1}
        # Each fee posting has its three entries once, however many threads replayed it.
        per_posting = db.session.execute(sa.text(
            "SELECT t.idempotency_key, COUNT(e.id), SUM(CASE WHEN e.account = 'marketplace_fees' "
            "THEN e.amount ELSE 0 END) FROM ledger_transactions t JOIN ledger_entries e ON e.transaction_id = t.id "
            "WHERE t.kind = 'fee' GROUP BY t.idempotency_key")).all()
        for key, entries, fee in per_posting:
            n = int(key.split(":")[1])
            assert (entries, fee) == (3, (1_000 + n) // 10), key
        # One allocation per payment key, at the rule's figures.
        allocations = db.session.scalars(sa.select(Allocation)).all()
        assert sorted(a.payment_key for a in allocations) == sorted(k for k in keys if k.startswith("payment:"))
        for allocation in allocations:
            n = int(allocation.payment_key.rsplit("_", 1)[1])
            assert (allocation.fee, allocation.to_platform, allocation.pool) == split(gross_of(n), 500, 5000)
            latest = db.session.execute(sa.text(
                "SELECT refunded_total FROM ledger_transactions WHERE allocation_id = :a ORDER BY id DESC LIMIT 1"),
                {"a": allocation.id}).scalar() or 0
            refunded = db.session.execute(sa.text(
                "SELECT COALESCE(SUM(e.amount), 0) FROM ledger_entries e JOIN ledger_transactions t "
                "ON t.id = e.transaction_id WHERE t.allocation_id = :a AND e.account = 'refunds_disputes'"),
                {"a": allocation.id}).scalar()
            assert int(refunded) == latest
        result = run_check(db.session)
        assert result.balanced, result.violations
        assert result.transactions == len(keys)
