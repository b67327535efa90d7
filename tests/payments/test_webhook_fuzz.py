"""Signed events whose content is not what the processor sends: a 400 naming the field, nothing
written, and the genuine event still acts afterwards. Hypothesis draws the malformed ones."""
from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.payments.gateway import sign_payload
from marketplace.payments.models import Dispute, WebhookEvent
from tests.asserts import assert_error
from tests.licensing.helpers import event, post_event, refunded
from tests.payments.helpers import PRICE, ledger_size, paid_license, split_of
from tests.unicode_edges import AWKWARD_TEXT, json_bytes, json_values


@pytest.fixture
def license(client, app, buyer, offer_id, stripe_gateway) -> dict:
    return paid_license(client, app, stripe_gateway, buyer, offer_id)


def post_signed(client, app, body) -> object:
    """Post `body` signed as Stripe would, written by the json module (orjson stops at 64 bits)."""
    payload = json_bytes(body)
    return client.post("/webhooks/stripe", data=payload,
                       headers={"Stripe-Signature": sign_payload(payload, app.config["STRIPE_WEBHOOK_SECRET"]),
                                "Content-Type": "application/json"})


def written() -> tuple:
    """Everything an event can write: the inbox, the ledger, the disputes, the payments' refunds."""
    from marketplace.payments.models import Payment

    return (db.session.scalar(select(func.count()).select_from(WebhookEvent)), ledger_size(),
            db.session.scalar(select(func.count()).select_from(Dispute)),
            tuple(db.session.execute(select(Payment.id, Payment.refunded_amount, Payment.disputed_amount,
                                            Payment.charge_id, Payment.status).order_by(Payment.id)).all()))


@pytest.mark.parametrize("amount", ["25000", 250.5, True, [25_000], {"value": 1}, -1, 2**63, 2**64])
def test_a_signed_refund_whose_amount_is_not_a_whole_number_is_a_400_naming_it(client, app, buyer, license,
                                                                                amount):
    before = written()
    body = refunded(license, license["charge_id"], 25_000)
    body["data"]["object"]["amount_refunded"] = amount
    response = post_signed(client, app, body)
    errors = assert_error(response, 400, "data.object.amount_refunded")["errors"]["json"]
    assert "data.object.amount_refunded" in errors
    db.session.expire_all()
    assert written() == before
    # The same facts, well formed, under another event id: acted on.
    assert post_event(client, app, refunded(license, license["charge_id"], 25_000)).status_code == 200
    assert split_of(client, buyer, license["id"])["refunded"] == 25_000


def test_a_refunded_total_past_32_bits_is_an_amount_not_an_error(client, app, buyer, license):
    """Some currencies' largest charge is past 2**31 minor units: such a total is read, and held
    to what the payment was (the whole payment refunded here)."""
    assert post_event(client, app, refunded(license, license["charge_id"], 2**31 + 5)).status_code == 200
    assert split_of(client, buyer, license["id"])["refunded"] == PRICE


@pytest.mark.parametrize("mutate, field", [
    (lambda e: e.update(id=["evt"]), "event.id"),
    (lambda e: e.update(id="e" * 256), "event.id"),
    (lambda e: e.update(type={"a": 1}), "event.type"),
    (lambda e: e.update(data=[1]), "event.data"),
    (lambda e: e["data"].update(object="ch_1"), "event.data.object"),
    (lambda e: e["data"]["object"].update(payment_intent=7), "data.object.payment_intent"),
    (lambda e: e["data"]["object"].update(id="ch\x00"), "data.object.id"),
])
def test_a_signed_event_of_the_wrong_shape_is_a_400_naming_the_field(client, app, license, mutate, field):
    before = written()
    body = refunded(license, license["charge_id"], 10_000)
    mutate(body)
    assert field in assert_error(post_signed(client, app, body), 400, field)["errors"]["json"]
    db.session.expire_all()
    assert written() == before


EVENT_TYPES = st.sampled_from([
    "payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded",
    "charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
    "account.updated", "transfer.reversed", "customer.created",
])


def _objects(license: dict):
    """A data.object that names this license's payment (so the handlers reach it), every other
    field drawn from awkward JSON."""
    intent = license["payment"]["payment_intent_id"]
    known = st.sampled_from([intent, license["charge_id"], "dp_1", "acct_1", "tr_1"])
    field = st.one_of(known, json_values)
    names = st.sampled_from(["id", "payment_intent", "charge", "latest_charge", "amount",
                             "amount_refunded", "amount_reversed", "status", "payouts_enabled",
                             "last_payment_error", "object"])
    return st.dictionaries(names, field, max_size=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(data=st.data())
def test_any_signed_event_is_a_200_or_a_400_that_wrote_nothing(client, app, license, data):
    kind = data.draw(EVENT_TYPES | st.text(max_size=30) | json_values, label="type")
    obj = data.draw(_objects(license) | json_values, label="object")
    body = {"id": data.draw(st.text(min_size=1, max_size=40).map(lambda s: f"evt_{s}") | json_values),
            "type": kind, "data": {"object": obj}}
    before = written()
    response = post_signed(client, app, body)
    assert response.status_code in (200, 400), (response.status_code, response.get_json(), body)
    if response.status_code == 400:
        assert_error(response, 400)
        db.session.expire_all()
        assert written() == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(payload=st.binary(max_size=300) | AWKWARD_TEXT.map(lambda s: s.encode("utf-8", "surrogatepass")))
def test_signed_bytes_that_are_no_event_are_a_400_and_write_nothing(client, app, payload):
    before = db.session.scalar(select(func.count()).select_from(WebhookEvent))
    response = client.post("/webhooks/stripe", data=payload,
                           headers={"Stripe-Signature": sign_payload(payload, app.config["STRIPE_WEBHOOK_SECRET"]),
                                    "Content-Type": "application/json"})
    if response.status_code == 200:  # bytes that happen to be an event of a type we don't handle
        assert orjson.loads(payload)["type"]
    else:
        assert_error(response, 400)
    assert db.session.scalar(select(func.count()).select_from(WebhookEvent)) == before
