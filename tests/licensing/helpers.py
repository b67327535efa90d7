"""Buying and paying through the API and localstripe, and posting events as Stripe signs them."""
from __future__ import annotations

import itertools
import time

import orjson

from marketplace.payments.gateway import sign_payload
from tests import factories
from tests.licensing.conftest import card_token

_events = itertools.count(1)


def buy(client, buyer: dict, offer_id: int, key: str | None = None):
    headers = {**buyer["headers"], **({"Idempotency-Key": key} if key else {})}
    return client.post("/api/v1/licenses", json={"offer_id": offer_id}, headers=headers)


def pay(gateway, license: dict) -> str:
    """Confirm the license's PaymentIntent with a test card; returns the charge id."""
    confirmed = gateway.confirm_with_card_token(
        license["payment"]["payment_intent_id"], card_token(gateway), idempotency_key=f"t{next(_events)}")
    assert confirmed.status == "succeeded"
    return confirmed.charge_id


def event(kind: str, obj: dict, event_id: str | None = None) -> dict:
    return {"id": event_id or f"evt_test_{next(_events)}", "type": kind, "created": int(time.time()),
            "data": {"object": obj}}


def succeeded(license: dict, charge_id: str, event_id: str | None = None) -> dict:
    intent = license["payment"]["payment_intent_id"]
    return event("payment_intent.succeeded", {"id": intent, "object": "payment_intent",
                                              "latest_charge": charge_id,
                                              "metadata": {"license_id": str(license["id"])}}, event_id)


def refunded(license: dict, charge_id: str, amount_refunded: int, event_id: str | None = None) -> dict:
    return event("charge.refunded", {"id": charge_id, "object": "charge",
                                     "payment_intent": license["payment"]["payment_intent_id"],
                                     "amount_refunded": amount_refunded}, event_id)


def post_event(client, app, body: dict, *, secret: str | None = None, timestamp: int | None = None):
    payload = orjson.dumps(body)
    signature = sign_payload(payload, secret or app.config["STRIPE_WEBHOOK_SECRET"], timestamp)
    return client.post("/webhooks/stripe", data=payload,
                       headers={"Stripe-Signature": signature, "Content-Type": "application/json"})


def get(client, buyer: dict, license_id: int) -> dict:
    response = client.get(f"/api/v1/licenses/{license_id}", headers=buyer["headers"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def admin_headers(runner) -> dict:
    result = runner.invoke(args=["admin", "create", f"admin{next(_events)}@example.test"])
    return factories.bearer(result.stdout.strip().splitlines()[-1])
