"""Licensing rules: exclusivity, the 30-minute deadline, unhonoured payments, renewals, terms."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import orjson
import pytest
from sqlalchemy import select

from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.licensing import services as licensing
from marketplace.licensing import states
from marketplace.licensing.models import License
from marketplace.payments.models import Payment, Refund
from tests import factories
from tests.licensing.helpers import buy, get, pay, post_event, succeeded


def offer_of(client, platform, **overrides) -> int:
    slug = factories.create_dataset(client, platform)["slug"]
    factories.import_records(client, platform, slug, [factories.record(i) for i in range(10)])
    client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"])
    offer = client.post(f"/api/v1/datasets/{slug}/offers", json=factories.offer_body(**overrides),
                        headers=platform["headers"]).get_json()
    client.post(f"/api/v1/datasets/{slug}/publish", headers=platform["headers"])
    return offer["id"], slug


def test_terms_are_frozen_with_their_sha256(client, platform, buyer, stripe_gateway):
    offer_id, slug = offer_of(client, platform)
    license = buy(client, buyer, offer_id).get_json()
    assert license["terms_sha256"] == hashlib.sha256(
        orjson.dumps(license["terms"], option=orjson.OPT_SORT_KEYS)).hexdigest()
    assert license["terms"]["scopes"] == ["ai-train"] and license["versions"] == ["1.0.0"]
    client.post(f"/api/v1/offers/{offer_id}/retire", headers=platform["headers"])
    assert get(client, buyer, license["id"])["terms"] == license["terms"]
    retired = buy(client, buyer, offer_id)
    assert retired.status_code == 409 and "retired" in retired.get_json()["message"]


def test_idempotency_key_reused_for_another_offer_is_a_conflict(client, platform, buyer, stripe_gateway):
    first, _ = offer_of(client, platform)
    second, _ = offer_of(client, platform)
    assert buy(client, buyer, first, key="k").status_code == 201
    assert buy(client, buyer, first, key="k").status_code == 201
    assert db.session.scalar(select(License.id).where(License.offer_id == first).limit(2).offset(1)) is None
    conflict = buy(client, buyer, second, key="k")
    assert conflict.status_code == 409


def test_a_taken_exclusive_offer_is_409_with_a_reason(client, platform, buyer, stripe_gateway):
    offer_id, slug = offer_of(client, platform, exclusive=True, territory=["FR", "DE"])
    other_buyer = factories.signup(client, "buyer", "Second Lab")
    assert buy(client, buyer, offer_id).status_code == 201
    taken = buy(client, other_buyer, offer_id)
    assert taken.status_code == 409
    assert "exclusive license already holds these uses" in taken.get_json()["message"]
    # A non-exclusive offer overlapping in scope and territory is held too; a disjoint one is not.
    overlapping = client.post(f"/api/v1/datasets/{slug}/offers", headers=platform["headers"],
                              json=factories.offer_body(territory=["DE", "US"])).get_json()["id"]
    disjoint = client.post(f"/api/v1/datasets/{slug}/offers", headers=platform["headers"],
                           json=factories.offer_body(scopes=["search"])).get_json()["id"]
    assert buy(client, other_buyer, overlapping).status_code == 409
    assert buy(client, other_buyer, disjoint).status_code == 201


def test_unpaid_licenses_cancel_after_30_minutes_and_free_the_offer(client, app, platform, buyer, stripe_gateway):
    offer_id, _ = offer_of(client, platform, exclusive=True)
    license = buy(client, buyer, offer_id).get_json()
    row = db.session.get(License, license["id"])
    assert licensing.expire_due(db.session, utcnow() + timedelta(minutes=29)) == 0
    assert licensing.expire_due(db.session, utcnow() + timedelta(minutes=31)) == 1
    db.session.commit()
    assert row.status == "canceled"
    assert [t.to_status for t in row.transitions] == ["pending_payment", "canceled"]
    other_buyer = factories.signup(client, "buyer", "Patient Lab")
    assert buy(client, other_buyer, offer_id).status_code == 201


def test_a_payment_for_a_canceled_license_is_refunded(client, app, platform, buyer, stripe_gateway):
    offer_id, _ = offer_of(client, platform)
    license = buy(client, buyer, offer_id).get_json()
    charge = pay(stripe_gateway, license)
    row = db.session.get(License, license["id"])
    states.move(db.session, row, "canceled", "unpaid after 30 minutes")
    db.session.commit()
    post_event(client, app, succeeded(license, charge))
    assert get(client, buyer, license["id"])["status"] == "canceled"
    payment = db.session.scalar(select(Payment).where(Payment.license_id == license["id"]))
    refund = db.session.scalar(select(Refund).where(Refund.payment_id == payment.id))
    assert (refund.amount, refund.reason) == (100_000, "automatic: the license is canceled")
    assert app.test_cli_runner().invoke(args=["ledger", "check"]).exit_code == 0


def test_states_refuse_illegal_moves(client, platform, buyer, stripe_gateway):
    offer_id, _ = offer_of(client, platform)
    license = db.session.get(License, buy(client, buyer, offer_id).get_json()["id"])
    with pytest.raises(states.IllegalTransition):
        states.move(db.session, license, "expired", "no")
    states.move(db.session, license, "canceled", "test")
    with pytest.raises(states.IllegalTransition):
        states.move(db.session, license, "active", "too late")


def test_annual_licenses_renew_over_the_versions_of_their_period(client, app, platform, buyer, stripe_gateway):
    offer_id, slug = offer_of(client, platform, billing="annual")
    license = buy(client, buyer, offer_id).get_json()
    post_event(client, app, succeeded(license, pay(stripe_gateway, license)))
    first = get(client, buyer, license["id"])
    assert first["status"] == "active"
    factories.import_records(client, platform, slug, [factories.record(i) for i in range(10, 14)])
    client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"])
    renewal = client.post(f"/api/v1/licenses/{license['id']}/renewals", headers=buyer["headers"])
    assert renewal.status_code == 201
    renewal = renewal.get_json()
    assert renewal["payment"]["purpose"] == "renewal"
    post_event(client, app, succeeded(renewal, pay(stripe_gateway, renewal)))
    renewed = get(client, buyer, license["id"])
    assert renewed["versions"] == ["1.0.0", "1.1.0"]
    assert renewed["period_end"] > first["period_end"]
    assert renewed["split"]["paid"]["amount"] == 200_000
    one_time, _ = offer_of(client, platform)
    plain = buy(client, buyer, one_time).get_json()
    assert client.post(f"/api/v1/licenses/{plain['id']}/renewals", headers=buyer["headers"]).status_code == 409


def test_buyers_see_only_their_licenses(client, platform, buyer, stripe_gateway):
    offer_id, _ = offer_of(client, platform)
    mine = buy(client, buyer, offer_id).get_json()
    other = factories.signup(client, "buyer", "Curious Lab")
    assert client.get(f"/api/v1/licenses/{mine['id']}", headers=other["headers"]).status_code == 404
    listing = client.get("/api/v1/licenses", headers=buyer["headers"]).get_json()
    assert [item["id"] for item in listing["items"]] == [mine["id"]] and listing["total"] == 1
    assert client.get("/api/v1/licenses", headers=other["headers"]).get_json()["items"] == []
    assert client.get("/api/v1/licenses?per_page=500", headers=buyer["headers"]).status_code == 422
    assert buy(client, buyer, 999_999).status_code == 404
