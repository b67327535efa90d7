"""Refunds racing each other and the settlement (PostgreSQL, real commits): two refund events of
one payment at once, two admin refunds at once, a refund committed while its payment is being
allocated.

The interleavings are made, not hoped for: each test holds a lock the requests need (`holding`),
sends them while it is held, waits until they queue behind it, then lets them go.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from marketplace.extensions import db
from marketplace.ledger.check import run_check
from marketplace.payments.gateway import StripeGateway
from tests import factories, isolated
from tests.conftest import BACKEND
from tests.licensing.helpers import admin_headers, buy, get, post_event, refunded, succeeded
from tests.payments.helpers import PRICE, expected_split, paid_license

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


def allocation_lock(license: dict) -> tuple[str, dict]:
    """The advisory lock a payment's allocation and its reversals take."""
    return ("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))",
            {"key": f"allocation:payment:{license['payment']['payment_intent_id']}"})


def payment_row_lock(license: dict) -> tuple[str, dict]:
    return ("SELECT id FROM payments WHERE payment_intent_id = :intent FOR UPDATE",
            {"intent": license["payment"]["payment_intent_id"]})


@contextmanager
def holding(market, lock: tuple[str, dict]) -> Iterator[object]:
    """`lock` taken by a connection of the test's own while the block sends its requests (it
    gets the engine, to count who waits); released at the block's end. The block's threads are
    then joined and must have finished."""
    threads: list[threading.Thread] = []
    with market.app_context():
        engine = db.engine
        holder = engine.connect()
        transaction = holder.begin()
        holder.execute(sa.text(lock[0]), lock[1])
        try:
            yield engine, threads
        finally:
            transaction.rollback()
            holder.close()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        db.session.remove()


def start(threads: list[threading.Thread], target, *args) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, daemon=True)
    threads.append(thread)
    thread.start()
    return thread


def listed(market, name: str) -> tuple[object, dict, int]:
    """A test client, a new buyer, and the offer of a new platform's published dataset."""
    client = market.test_client()
    platform = factories.signup(client, "platform", f"{name} Forum")
    buyer = factories.signup(client, "buyer", f"{name} Lab")
    return client, buyer, factories.published_dataset(client, platform, n_records=10)["offers"][0]["id"]


def assert_split_and_balanced(market, client, buyer: dict, license: dict, *, refunded: int) -> None:
    """The license's split is the rule's for the payment less `refunded`, and the ledger balances."""
    split = {name: value["amount"] if isinstance(value, dict) else value
             for name, value in get(client, buyer, license["id"])["split"].items()}
    assert split == expected_split(refunded) and split["paid"] == PRICE
    with market.app_context():
        assert run_check(db.session).balanced
        db.session.rollback()


def test_a_smaller_total_arriving_with_a_larger_one_does_not_undo_it(market):
    """Stripe sends events concurrently: the one carrying the smaller cumulative total can be read
    before the larger one commits and written after it, and must not take the total back down.
    The event with 60,000 waits inside its reversal for the allocation's lock; the one with
    25,000 is sent then."""
    client, buyer, offer_id = listed(market, "Race")
    license = buy(client, buyer, offer_id).get_json()
    assert post_event(client, market, succeeded(license, "ch_race")).status_code == 200
    assert get(client, buyer, license["id"])["status"] == "active"

    answers: dict[int, int] = {}

    def deliver(amount: int) -> None:
        answers[amount] = post_event(market.test_client(), market, refunded(license, "ch_race", amount)).status_code

    with holding(market, allocation_lock(license)) as (engine, threads):
        start(threads, deliver, 60_000)
        wait_for(lambda: lock_waits(engine) >= 1, "the 60,000 event to wait for the allocation lock")
        start(threads, deliver, 25_000)
        wait_for(lambda: lock_waits(engine) >= 2, "the 25,000 event to wait behind it")

    assert answers == {60_000: 200, 25_000: 200}
    assert_split_and_balanced(market, client, buyer, license, refunded=60_000)


def test_two_admin_refunds_at_once_are_two_refunds(market):
    """Two admins refund 10,000 of one payment at the same moment. Each numbers its refund (the
    processor's idempotency key) and adds it to the total: without the payment's row lock taken
    first, both read refund number 1 and the same total, and the processor handed the second
    the first one's refund back. The test holds that lock while both requests arrive."""
    client, buyer, offer_id = listed(market, "Refunding")
    with market.app_context():
        license = paid_license(client, market, market.extensions["payment_gateway"], buyer, offer_id)
        db.session.remove()
    # Two admins: one key's first use of the day is stamped on its row, which would queue the
    # second request behind the first before either reached the payment.
    admins = [admin_headers(market.test_cli_runner()) for _ in range(2)]

    answers: list[tuple[int, dict]] = []

    def refund(admin: dict) -> None:
        response = market.test_client().post(f"/api/v1/admin/licenses/{license['id']}/refunds",
                                             json={"amount": 10_000}, headers=admin)
        answers.append((response.status_code, response.get_json()))

    with holding(market, payment_row_lock(license)) as (engine, threads):
        for admin in admins:
            start(threads, refund, admin)
        wait_for(lambda: lock_waits(engine) >= 2, "both refunds to wait for the payment's row")

    assert [status for status, _body in answers] == [201, 201], answers
    assert len({body["refund_id"] for _status, body in answers}) == 2
    assert_split_and_balanced(market, client, buyer, license, refunded=20_000)


def test_a_refund_arriving_while_its_payment_is_allocated_is_taken_out_of_the_shares(market):
    """The refund event commits while the payment's settlement is still allocating. The event
    finds no allocation to reverse and leaves the refund to the settlement, which must read the
    refunded total fresh: read before the event committed, the shares kept the refunded money.
    The test holds the allocation's lock, so the settlement waits inside it while the event is
    sent."""
    client, buyer, offer_id = listed(market, "Settling")
    license = buy(client, buyer, offer_id).get_json()

    answers: dict[str, int] = {}

    def deliver(name: str, body: dict) -> None:
        answers[name] = post_event(market.test_client(), market, body).status_code

    with holding(market, allocation_lock(license)) as (engine, threads):
        start(threads, deliver, "succeeded", succeeded(license, "ch_settle"))
        wait_for(lambda: lock_waits(engine) >= 1, "the settlement to wait for the allocation lock")
        refunding = start(threads, deliver, "refunded", refunded(license, "ch_settle", 30_000))
        # With the settlement holding the payment's row, the event waits for it; without, it
        # commits at once. Either way, let the settlement go on once the event has got that far.
        wait_for(lambda: lock_waits(engine) >= 2 or not refunding.is_alive(), "the refund event")

    assert answers == {"succeeded": 200, "refunded": 200}
    assert_split_and_balanced(market, client, buyer, license, refunded=30_000)
