"""What a new buyer or admin tripped on in the first hour (pages and API): one pending license
per buyer and offer, cancelling it, the page right after paying, admins opening any license,
refunds typed in currency and confirmed."""
from __future__ import annotations

from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.licensing.models import License
from marketplace.payments.models import Payment, Refund
from tests import factories
from tests.conftest import card_token
from tests.licensing.helpers import buy
from tests.payments.helpers import paid_license
from tests.sales import sell


def offer_of(client, platform) -> int:
    return factories.published_dataset(client, platform, n_records=4)["offers"][0]["id"]


def test_accepting_the_same_offer_twice_reuses_the_pending_license(client, platform, buyer, stripe_gateway):
    offer_id = offer_of(client, platform)
    first = buy(client, buyer, offer_id).get_json()
    second = buy(client, buyer, offer_id).get_json()
    assert second["id"] == first["id"]
    assert second["payment"]["payment_intent_id"] == first["payment"]["payment_intent_id"]
    factories.login(client, buyer)
    page = client.post(f"/offers/{offer_id}/checkout")
    assert page.status_code == 302 and page.headers["Location"].endswith(f"/licenses/{first['id']}/pay")
    assert db.session.scalar(select(func.count()).select_from(License)) == 1
    assert db.session.scalar(select(func.count()).select_from(Payment)) == 1


def test_a_buyer_cancels_a_pending_license_and_not_a_paid_one(client, app, platform, buyer, stripe_gateway):
    offer_id = offer_of(client, platform)
    pending = buy(client, buyer, offer_id).get_json()
    other = factories.signup(client, "buyer", "Someone Else")
    assert client.post(f"/api/v1/licenses/{pending['id']}/cancel", headers=other["headers"]).status_code == 404
    canceled = client.post(f"/api/v1/licenses/{pending['id']}/cancel", headers=buyer["headers"])
    assert canceled.status_code == 200 and canceled.get_json()["status"] == "canceled"
    assert db.session.get(Payment, db.session.scalar(select(Payment.id))).status == "canceled"
    again = client.post(f"/api/v1/licenses/{pending['id']}/cancel", headers=buyer["headers"])
    assert again.status_code == 409 and "canceled" in again.get_json()["message"]
    paid = sell(client, app, buyer, offer_id)
    refused = client.post(f"/api/v1/licenses/{paid['id']}/cancel", headers=buyer["headers"])
    assert refused.status_code == 409 and "active" in refused.get_json()["message"]


def test_the_cancel_button_on_the_license_page(client, platform, buyer, stripe_gateway):
    offer_id = offer_of(client, platform)
    pending = buy(client, buyer, offer_id).get_json()
    factories.login(client, buyer)
    page = client.get(f"/licenses/{pending['id']}")
    assert b"Cancel this license" in page.data and b"Pay now" in page.data
    done = client.post(f"/licenses/{pending['id']}/cancel", follow_redirects=True)
    assert b"canceled; nothing was charged" in done.data
    assert b'data-status="canceled"' in done.data and b"Pay now" not in done.data


def test_right_after_the_card_the_license_page_says_one_thing(client, platform, buyer, stripe_gateway):
    """The card was accepted, the processor's event has not arrived: "Payment received", no
    "Pay now" and no receipt in the processor's slugs; the block refreshes itself."""
    offer_id = offer_of(client, platform)
    pending = buy(client, buyer, offer_id).get_json()
    factories.login(client, buyer)
    paid = client.post(f"/licenses/{pending['id']}/pay", data={"stripe_token": card_token(stripe_gateway)},
                       follow_redirects=True)
    assert paid.status_code == 200
    page = paid.data.decode()
    assert "Payment received" in page and "Pay now" not in page
    assert "card accepted, being confirmed" in page and "requires_payment" not in page
    assert 'hx-trigger="every 2s"' in page and 'http-equiv="refresh"' in page
    assert db.session.scalar(select(Payment.status)) == "processing"


def test_an_admin_opens_any_license_from_the_admin_list(client, app, runner, platform, buyer, stripe_gateway):
    license = sell(client, app, buyer, offer_of(client, platform))
    admin = {"email": "admin-first-hour@example.test", "password": "admin-pass-123"}
    runner.invoke(args=["admin", "create", admin["email"], "--password", admin["password"]])
    factories.login(client, admin)
    listing = client.get("/admin/licenses")
    assert f'href="/licenses/{license["id"]}"'.encode() in listing.data
    page = client.get(f"/licenses/{license['id']}")
    assert page.status_code == 200 and b'data-status="active"' in page.data
    assert b"Cancel this license" not in page.data


def test_admin_refunds_are_typed_in_currency_and_confirmed(client, app, runner, platform, buyer, stripe_gateway):
    license = paid_license(client, app, stripe_gateway, buyer, offer_of(client, platform))
    price = license["price"]["amount"]
    admin = {"email": "admin-refunds@example.test", "password": "admin-pass-123"}
    runner.invoke(args=["admin", "create", admin["email"], "--password", admin["password"]])
    factories.login(client, admin)
    url = f"/admin/licenses/{license['id']}/refunds"
    asked = client.post(url, data={"amount": "12.34"})
    assert asked.status_code == 200 and b"Refund 12.34 USD?" in asked.data
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 0
    refused = client.post(url, data={"amount": "12.345"}, follow_redirects=True)
    assert b"at most two decimals" in refused.data
    done = client.post(url, data={"amount": "12.34", "confirmed": "yes"}, follow_redirects=True)
    assert b"Refunded 12.34 USD of license" in done.data, done.data.decode()[-3000:]
    assert db.session.scalar(select(Refund.amount)) == 1234
    split = client.get(f"/api/v1/licenses/{license['id']}", headers=buyer["headers"]).get_json()["split"]
    assert split["refunded"] == {"amount": 1234, "currency": "usd"}
    assert split["paid"]["amount"] == price


def test_a_platforms_sales_rows_open_the_sales_split(client, app, platform, other_platform, buyer, stripe_gateway):
    license = sell(client, app, buyer, offer_of(client, platform))
    factories.login(client, platform)
    listing = client.get("/platform/sales")
    assert f'href="/platform/sales/{license["id"]}"'.encode() in listing.data
    page = client.get(f"/platform/sales/{license['id']}").get_data(as_text=True)
    split = license["split"]
    assert f"{split['to_platform']['amount'] / 100:,.2f} USD" in page
    assert f"{split['to_contributors']['amount'] / 100:,.2f} USD among {split['contributors_paid']} contributors" in page
    other = app.test_client()
    factories.login(other, other_platform)
    assert other.get(f"/platform/sales/{license['id']}").status_code == 404


def test_the_polling_status_block_reloads_the_page_once_the_license_is_active(client, app, platform, buyer,
                                                                                stripe_gateway):
    """While pending, the status block answers alone; once paid, it tells htmx to reload the page,
    so the downloads, the history and the messages on it are those of an active license."""
    offer_id = offer_of(client, platform)
    pending = buy(client, buyer, offer_id).get_json()
    factories.login(client, buyer)
    waiting = client.get(f"/licenses/{pending['id']}", headers={"HX-Request": "true"})
    assert "HX-Refresh" not in waiting.headers and b'id="license-status"' in waiting.data
    paid = sell(client, app, buyer, offer_id)
    done = client.get(f"/licenses/{paid['id']}", headers={"HX-Request": "true"})
    assert done.headers["HX-Refresh"] == "true"


def test_a_card_accepted_before_the_deadline_is_honoured_when_its_event_comes_late(client, app, platform, buyer,
                                                                                     stripe_gateway):
    """The buyer paid at minute 29; the processor's event arrives after the 30 minutes. The license
    waits (it is not canceled by the clock, nor its payment refunded) and turns active."""
    from datetime import timedelta

    from marketplace.db import utcnow
    from marketplace.licensing import services
    from tests.licensing.helpers import post_event, succeeded

    offer_id = offer_of(client, platform)
    pending = buy(client, buyer, offer_id).get_json()
    factories.login(client, buyer)
    client.post(f"/licenses/{pending['id']}/pay", data={"stripe_token": card_token(stripe_gateway)})
    row = db.session.get(License, pending["id"])
    accepted = db.session.scalar(select(Payment.confirmed_at))
    row.pay_by = accepted  # the card was accepted at the deadline, which has passed since
    db.session.commit()
    assert accepted < utcnow()
    assert services.expire_due(db.session, now=accepted + timedelta(minutes=5)) == 0
    assert client.get(f"/api/v1/licenses/{pending['id']}", headers=buyer["headers"]).get_json()["status"] == \
        "pending_payment"
    assert post_event(client, app, succeeded(pending, "ch_late_event")).status_code == 200
    late = client.get(f"/api/v1/licenses/{pending['id']}", headers=buyer["headers"]).get_json()
    assert late["status"] == "active" and late["split"]["refunded"]["amount"] == 0
    assert db.session.scalar(select(func.count()).select_from(Refund)) == 0
