"""The webhook: signatures, the inbox, replays, and events in any order."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from marketplace.allocation.models import Allocation
from marketplace.allocation.split import split
from marketplace.extensions import db
from marketplace.ledger.models import LedgerEntry
from marketplace.payments.models import WebhookEvent
from tests import factories
from tests.licensing.helpers import buy, get, pay, post_event, refunded, succeeded

PRICE = 100_000  # factories.offer_body's flat price


def counts():
    return (db.session.scalar(select(func.count()).select_from(WebhookEvent)),
            db.session.scalar(select(func.count()).select_from(LedgerEntry)),
            db.session.scalar(select(func.count()).select_from(Allocation)))


@pytest.fixture
def bought(client, platform, buyer, stripe_gateway):
    dataset = factories.published_dataset(client, platform, n_records=21)
    license = buy(client, buyer, dataset["offers"][0]["id"]).get_json()
    charge = pay(stripe_gateway, license)
    return license, charge


@pytest.mark.parametrize("tamper", ["secret", "payload", "old", "future", "missing"])
def test_a_bad_signature_is_400_and_writes_nothing(client, app, bought, tamper):
    license, charge = bought
    before = counts()
    body = succeeded(license, charge)
    if tamper == "secret":
        response = post_event(client, app, body, secret="whsec_wrong")
    elif tamper == "old":
        response = post_event(client, app, body, timestamp=int(time.time()) - 301)
    elif tamper == "future":
        response = post_event(client, app, body, timestamp=int(time.time()) + 301)
    elif tamper == "missing":
        response = client.post("/webhooks/stripe", json=body)
    else:
        import orjson

        from marketplace.payments.gateway import sign_payload

        signature = sign_payload(orjson.dumps(body), app.config["STRIPE_WEBHOOK_SECRET"])
        body["data"]["object"]["latest_charge"] = "ch_forged"
        response = client.post("/webhooks/stripe", data=orjson.dumps(body),
                               headers={"Stripe-Signature": signature, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert "Stripe-Signature" in response.get_json()["message"]
    assert counts() == before


def test_the_same_event_five_times_has_one_effect(client, app, buyer, bought):
    license, charge = bought
    event = succeeded(license, charge, event_id="evt_same")
    answers = [post_event(client, app, event).get_json() for _ in range(5)]
    assert [answer["duplicate"] for answer in answers] == [False, True, True, True, True]
    # A new event id carrying the same PaymentIntent allocates nothing more either.
    post_event(client, app, succeeded(license, charge, event_id="evt_other"))
    assert db.session.scalar(select(func.count()).select_from(Allocation)) == 1
    body = get(client, buyer, license["id"])
    assert body["status"] == "active"
    fee, to_platform, pool = split(PRICE, 500, 5000)
    assert (body["split"]["marketplace_fee"]["amount"], body["split"]["to_platform"]["amount"],
            body["split"]["to_contributors"]["amount"]) == (fee, to_platform, pool)


def test_a_refund_before_the_success_is_applied_once_both_arrive(client, app, buyer, bought):
    license, charge = bought
    assert post_event(client, app, refunded(license, charge, 40_000)).status_code == 200
    assert get(client, buyer, license["id"])["status"] == "pending_payment"
    post_event(client, app, succeeded(license, charge))
    body = get(client, buyer, license["id"])
    fee, to_platform, pool = split(PRICE - 40_000, 500, 5000)
    assert body["status"] == "active"
    assert body["split"]["refunded"]["amount"] == 40_000
    assert (body["split"]["marketplace_fee"]["amount"], body["split"]["to_platform"]["amount"],
            body["split"]["to_contributors"]["amount"]) == (fee, to_platform, pool)
    # Refund events in any order and repeated: the highest cumulative amount wins.
    for amount in (100_000, 40_000, 70_000, 100_000):
        post_event(client, app, refunded(license, charge, amount))
    body = get(client, buyer, license["id"])
    assert body["status"] == "refunded"
    assert {k: v["amount"] for k, v in body["split"].items() if isinstance(v, dict)} == {
        "paid": PRICE, "refunded": PRICE, "marketplace_fee": 0, "to_platform": 0, "to_contributors": 0,
        "unallocated": 0}


def test_an_admin_refund_then_its_event_reverses_nothing_twice(client, app, runner, buyer, bought):
    from tests.licensing.helpers import admin_headers

    license, charge = bought
    post_event(client, app, succeeded(license, charge))
    admin = admin_headers(runner)
    response = client.post(f"/api/v1/admin/licenses/{license['id']}/refunds", json={"amount": 25_000}, headers=admin)
    assert response.status_code == 201
    entries = db.session.scalar(select(func.count()).select_from(LedgerEntry))
    post_event(client, app, refunded(license, charge, 25_000))
    assert db.session.scalar(select(func.count()).select_from(LedgerEntry)) == entries
    assert get(client, buyer, license["id"])["split"]["refunded"]["amount"] == 25_000
    too_much = client.post(f"/api/v1/admin/licenses/{license['id']}/refunds", json={"amount": 75_001}, headers=admin)
    assert too_much.status_code == 422 and "amount" in too_much.get_json()["errors"]["json"]
    assert client.post(f"/api/v1/admin/licenses/{license['id']}/refunds", json={"amount": 1},
                       headers=factories.bearer(buyer["api_key"])).status_code == 403
    assert client.post("/api/v1/admin/licenses/999999/refunds", json={"amount": 1}, headers=admin).status_code == 404


def test_disputes_hold_money_until_won(client, app, buyer, bought):
    from tests.licensing.helpers import event

    license, charge = bought
    post_event(client, app, succeeded(license, charge))
    dispute = {"id": "dp_1", "object": "dispute", "charge": charge, "amount": 60_000,
               "payment_intent": license["payment"]["payment_intent_id"]}
    post_event(client, app, event("charge.dispute.created", {**dispute, "status": "needs_response"}))
    held = get(client, buyer, license["id"])["split"]
    assert held["refunded"]["amount"] == 60_000
    assert held["to_contributors"]["amount"] == split(PRICE - 60_000, 500, 5000).pool
    post_event(client, app, event("charge.dispute.closed", {**dispute, "status": "won"}))
    restored = get(client, buyer, license["id"])["split"]
    assert restored["refunded"]["amount"] == 0
    assert restored["to_contributors"]["amount"] == split(PRICE, 500, 5000).pool
