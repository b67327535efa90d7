"""Batch runs under crashes, and two runs at once on PostgreSQL: each payable is reserved once and
appears on exactly one batch line; the ledger balances."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from marketplace.accounts import services as accounts_services
from marketplace.extensions import db
from marketplace.ledger import posting
from marketplace.ledger.models import MARKETPLACE
from marketplace.payouts import batch, runner, services
from marketplace.payouts.accounts import Payee, set_batch_account
from marketplace.payouts.models import Payout
from tests import isolated
from tests.conftest import BACKEND
from tests.ledger import helpers as ledger
from tests.payouts.helpers import kind_total, payouts, payouts_per_payable


class Crash(BaseException):
    pass


def platforms_owed(amounts: list[int], prefix: str = "") -> list[int]:
    """Platforms owed `amounts` (a payment's platform share, posted through post_transaction), each
    with a ready batch account; returns their organization ids."""
    ids = []
    for amount in amounts:
        organization, _user, _key = accounts_services.sign_up(
            db.session, "platform", ledger.unique(f"{prefix}Payee Co"), f"{ledger.unique(prefix + 'co')}@example.test",
            "long enough password")
        posting.post_transaction(db.session, key=ledger.unique(f"{prefix}owed"), kind="test", currency="usd", entries=[
            ("payment_clearing", MARKETPLACE, -amount), ("platform_payable", organization.id, amount)])
        set_batch_account(db.session, Payee(organization_id=organization.id), f"{organization.slug}@paypal.test")
        ids.append(organization.id)
    return ids


def test_a_crash_between_reservation_batches_then_a_rerun_reserves_each_payable_once(monkeypatch):
    owed = platforms_owed([150, 250, 350, 450, 550])
    db.session.commit()
    real = services.reserve_batch
    calls = {"n": 0}

    def second_batch_crashes(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # contributors (none), platforms 1–2, then the crash
            raise Crash()
        return real(*args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(services, "reserve_batch", second_batch_crashes)
        with pytest.raises(Crash):
            runner.run(started_by="test", batch=2)
    assert len(payouts()) == 2  # the first batch committed

    runner.run(started_by="test", batch=2)
    runner.run(started_by="test", batch=2)

    assert payouts_per_payable() == {("platform_payable", organization): 1 for organization in owed}
    lines = [line for run_id in {p.run_id for p in payouts()}
             for chunk in batch.file_lines(db.session, run_id) for line in chunk.splitlines()]
    assert sorted(int(line.split(",")[3]) for line in lines) == sorted(p.id for p in payouts())
    assert kind_total("payouts_in_transit") == 1_750
    from tests.payouts.helpers import ledger_balanced

    assert ledger_balanced()


def test_a_crash_while_importing_results_writes_nothing_and_the_import_is_repeated(monkeypatch):
    platforms_owed([150, 250])
    outcome = runner.run(started_by="test")
    ids = [p.id for p in payouts()]
    text = "".join(f"{payout_id},paid\n" for payout_id in ids)
    with monkeypatch.context() as patched:
        patched.setattr(batch, "_record", lambda *a: (_ for _ in ()).throw(Crash()))
        with pytest.raises(Crash):
            from marketplace.boundary import unit_of_work

            unit_of_work(lambda: batch.import_results(db.session, outcome.run_id, text))
    assert {p.status for p in payouts()} == {"in_transit"} and kind_total("paid_out") == 0

    assert batch.import_results(db.session, outcome.run_id, text) == {"paid": 2, "failed": 0}
    assert kind_total("paid_out") == 400 and kind_total("payouts_in_transit") == 0


# ---- PostgreSQL, real connections ------------------------------------------------------------

RUNS = 4


@pytest.fixture(scope="module")
def isolated_app(app):
    with isolated.isolated_app("payout_races", connections=RUNS + 2) as market:
        yield market


@pytest.mark.isolated_db
@pytest.mark.skipif(BACKEND != "postgresql", reason="concurrent writers need PostgreSQL; SQLite has one writer")
def test_runs_at_once_pay_each_payable_once(isolated_app):
    with isolated_app.app_context():
        owed = platforms_owed([100 + i for i in range(40)], prefix="race")
        db.session.commit()
    barrier = threading.Barrier(RUNS, timeout=60)
    errors: list[str] = []

    def run_once() -> None:
        with isolated_app.app_context():
            try:
                barrier.wait()
                runner.run(started_by="race", batch=7)
            except Exception as error:  # noqa: BLE001 — reported below
                errors.append(repr(error))

    threads = [threading.Thread(target=run_once, daemon=True) for _ in range(RUNS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    with isolated_app.app_context():
        counts = dict(db.session.execute(select(Payout.owner_id, func.count()).group_by(Payout.owner_id)).all())
        assert counts == {organization: 1 for organization in owed}
        assert kind_total("payouts_in_transit") == sum(100 + i for i in range(40))
        assert kind_total("platform_payable") == 0
        from marketplace.ledger.check import run_check

        assert run_check(db.session).balanced
        db.session.rollback()
