"""`POST /webhooks/stripe` replays: an event id acts once; a new id carrying the same facts adds
nothing; refunds in any order end at the highest cumulative amount; a refused delivery records nothing."""
from __future__ import annotations

import time

import pytest

from marketplace.extensions import db
from marketplace.payments.models import WebhookEvent
from tests.asserts import assert_error
from tests.licensing.helpers import event, post_event, refunded, succeeded
from tests.payments.helpers import (
    PRICE,
    balances,
    count,
    deliver,
    expected_split,
    ledger_size,
    paid_license,
    payments_of,
    split_of,
)


@pytest.fixture
def license(client, app, buyer, offer_id, stripe_gateway) -> dict:
    return paid_license(client, app, stripe_gateway, buyer, offer_id)


def test_the_same_refund_event_twice_posts_once(client, app, buyer, license):
    body = refunded(license, license["charge_id"], 25_000, event_id="evt_refund_once")
    before = ledger_size()
    assert deliver(client, app, body) == {"received": True, "duplicate": False}
    after = ledger_size()
    assert after[0] == before[0] + 1 and after[1] > before[1]
    assert deliver(client, app, body) == {"received": True, "duplicate": True}
    assert ledger_size() == after
    assert count(WebhookEvent) == 2  # the success and this refund
    assert split_of(client, buyer, license["id"]) == expected_split(25_000)


def test_the_same_dispute_event_twice_posts_once(client, app, buyer, license):
    body = event("charge.dispute.created", {"id": "dp_twice", "object": "dispute", "charge": license["charge_id"],
                                            "amount": 10_000, "status": "needs_response"}, "evt_dispute_once")
    assert deliver(client, app, body)["duplicate"] is False
    size = ledger_size()
    assert deliver(client, app, body)["duplicate"] is True
    assert ledger_size() == size
    assert split_of(client, buyer, license["id"]) == expected_split(10_000)


def test_a_new_event_for_the_same_success_posts_nothing(client, app, buyer, license):
    size = ledger_size()
    assert deliver(client, app, succeeded(license, license["charge_id"], event_id="evt_success_again")) == {
        "received": True, "duplicate": False}
    assert ledger_size() == size
    assert split_of(client, buyer, license["id"]) == expected_split(0)


def test_a_new_event_for_the_same_refunded_total_posts_no_entry(client, app, buyer, license):
    deliver(client, app, refunded(license, license["charge_id"], 25_000))
    entries = ledger_size()[1]
    assert deliver(client, app, refunded(license, license["charge_id"], 25_000))["duplicate"] is False
    assert ledger_size()[1] == entries
    assert split_of(client, buyer, license["id"]) == expected_split(25_000)


def test_a_new_event_for_the_same_refunded_total_posts_no_transaction(client, app, license):
    deliver(client, app, refunded(license, license["charge_id"], 25_000))
    size = ledger_size()
    deliver(client, app, refunded(license, license["charge_id"], 25_000))
    assert ledger_size() == size


def test_refunds_out_of_order_end_at_the_highest_total(client, app, buyer, license):
    deliver(client, app, refunded(license, license["charge_id"], 60_000))
    # 40000: fee 2000, net 38000, pool 19000, platform 19000.
    at_60k = {"paid": PRICE, "refunded": 60_000, "marketplace_fee": 2000, "to_platform": 19000,
              "to_contributors": 19000, "unallocated": 0, "contributors_paid": 7}
    assert split_of(client, buyer, license["id"]) == at_60k
    entries = ledger_size()[1]
    deliver(client, app, refunded(license, license["charge_id"], 25_000))  # an earlier refund, late
    assert split_of(client, buyer, license["id"]) == at_60k
    assert ledger_size()[1] == entries
    assert payments_of(license["id"])[0].refunded_amount == 60_000
    deliver(client, app, refunded(license, license["charge_id"], 80_000))
    assert split_of(client, buyer, license["id"]) == expected_split(80_000)
    deliver(client, app, refunded(license, license["charge_id"], 60_000))
    assert split_of(client, buyer, license["id"]) == expected_split(80_000)
    assert balances()["refunds_disputes"] == 80_000
    assert payments_of(license["id"])[0].refunded_amount == 80_000


@pytest.mark.parametrize("delivery", ["wrong secret", "stale", "future"])
def test_a_refused_delivery_records_nothing_and_the_genuine_one_still_acts(client, app, buyer, license, delivery):
    body = refunded(license, license["charge_id"], 50_000, event_id="evt_refused_first")
    size, events = ledger_size(), count(WebhookEvent)
    signing = {"wrong secret": {"secret": "whsec_not_ours"}, "stale": {"timestamp": int(time.time()) - 301},
               "future": {"timestamp": int(time.time()) + 301}}[delivery]
    assert_error(post_event(client, app, body, **signing), 400, "Stripe-Signature")
    assert (ledger_size(), count(WebhookEvent)) == (size, events)
    assert db.session.get(WebhookEvent, "evt_refused_first") is None
    assert payments_of(license["id"])[0].refunded_amount == 0
    assert split_of(client, buyer, license["id"]) == expected_split(0)
    # Stripe retries the same event, signed right: its id was not spent by the refusal.
    assert deliver(client, app, body)["duplicate"] is False
    assert split_of(client, buyer, license["id"]) == expected_split(50_000)


def test_events_not_ours_are_taken_and_change_nothing(client, app, license):
    size, events = ledger_size(), count(WebhookEvent)
    assert deliver(client, app, event("customer.created", {"id": "cus_1", "object": "customer"})) == {
        "received": True, "duplicate": False}
    assert count(WebhookEvent) == events  # not a handled type: not even kept
    stranger = {"payment": {"payment_intent_id": "pi_not_ours"}, "id": 0}
    deliver(client, app, succeeded(stranger, "ch_not_ours"))
    deliver(client, app, refunded(stranger, "ch_not_ours", 500))
    assert count(WebhookEvent) == events + 2
    assert ledger_size() == size


def test_a_decline_reported_after_the_success_changes_nothing(client, app, buyer, license):
    size = ledger_size()
    deliver(client, app, event("payment_intent.payment_failed", {
        "id": license["payment"]["payment_intent_id"], "object": "payment_intent",
        "last_payment_error": {"message": "Your card was declined."}}))
    [payment] = payments_of(license["id"])
    assert (payment.status, payment.failure_message) == ("succeeded", None)
    assert ledger_size() == size
    assert split_of(client, buyer, license["id"]) == expected_split(0)
