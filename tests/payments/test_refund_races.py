"""Two refund events of one payment at once (PostgreSQL, real commits): the later write must not
take the cumulative refunded total back down. Stripe sends events concurrently; the one carrying
the smaller total can be read before the larger one commits and written after it.

The interleaving is made, not hoped for: the test holds the payment's allocation lock, so the
event with 60,000 waits inside its reversal, and the event with 25,000 is sent then.
"""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from marketplace.extensions import db
from marketplace.ledger.check import run_check
from marketplace.payments.gateway import StripeGateway
from tests import factories, isolated
from tests.conftest import BACKEND
from tests.licensing.helpers import buy, get, post_event, refunded, succeeded
from tests.payments.helpers import PRICE, expected_split

pytestmark = [
    pytest.mark.isolated_db,
    pytest.mark.skipif(BACKEND != "postgresql", reason="concurrent writers need PostgreSQL; SQLite has one writer"),
]


@pytest.fixture(scope="module")
def market(app, localstripe_url):
    with isolated.isolated_app("refund_races", connections=6) as isolated_app:
        isolated_app.extensions["payment_gateway"] = StripeGateway(isolated_app.config["STRIPE_SECRET_KEY"],
                                                                   localstripe_url)
        yield isolated_app


def lock_waits(engine) -> int:
    """Backends of this database waiting for a lock (a row's, or an advisory one)."""
    with engine.connect() as connection:
        return connection.scalar(sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"))


def wait_for(condition, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_smaller_total_arriving_with_a_larger_one_does_not_undo_it(market):
    client = market.test_client()
    platform = factories.signup(client, "platform", "Race Forum")
    buyer = factories.signup(client, "buyer", "Race Lab")
    offer_id = factories.published_dataset(client, platform, n_records=10)["offers"][0]["id"]
    license = buy(client, buyer, offer_id).get_json()
    assert post_event(client, market, succeeded(license, "ch_race")).status_code == 200
    assert get(client, buyer, license["id"])["status"] == "active"

    answers: dict[int, int] = {}

    def deliver(amount: int) -> None:
        answers[amount] = post_event(market.test_client(), market, refunded(license, "ch_race", amount)).status_code

    with market.app_context():
        engine = db.engine
        holder = engine.connect()
        transaction = holder.begin()
        holder.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                       {"key": f"allocation:payment:{license['payment']['payment_intent_id']}"})
        larger = threading.Thread(target=deliver, args=(60_000,), daemon=True)
        larger.start()
        wait_for(lambda: lock_waits(engine) >= 1, "the 60,000 event to wait for the allocation lock")
        smaller = threading.Thread(target=deliver, args=(25_000,), daemon=True)
        smaller.start()
        wait_for(lambda: lock_waits(engine) >= 2, "the 25,000 event to wait behind it")
        transaction.rollback()
        holder.close()
        for thread in (larger, smaller):
            thread.join(timeout=60)
        assert not larger.is_alive() and not smaller.is_alive()
        db.session.remove()

    assert answers == {60_000: 200, 25_000: 200}
    split = {name: value["amount"] if isinstance(value, dict) else value
             for name, value in get(client, buyer, license["id"])["split"].items()}
    assert split == expected_split(60_000) and split["paid"] == PRICE
    with market.app_context():
        assert run_check(db.session).balanced
        db.session.rollback()
