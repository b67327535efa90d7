"""Holding offers without paying: a cap on a buyer's pending licenses, and a cool-down before a
buyer whose reservation of an exclusive offer ended unpaid may reserve it again (issue 15's probe:
one buyer re-reserved an exclusive offer every 30 minutes, another made 128 pending licenses)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from marketplace.db import utcnow
from marketplace.extensions import db
from marketplace.licensing import services as licensing
from marketplace.licensing.models import License
from marketplace.payments.models import Payment
from tests import factories
from tests.asserts import assert_error
from tests.licensing.helpers import buy
from tests.payments.helpers import let_pay_by_pass


def dataset_offers(client, platform, n: int, **overrides) -> list[int]:
    """A published dataset with `n` offers (factories.offer_body with `overrides`, disjoint by name)."""
    slug = factories.published_dataset(client, platform, n_records=4)["slug"]
    made = [client.post(f"/api/v1/datasets/{slug}/offers", headers=platform["headers"],
                        json=factories.offer_body(name=f"Offer {i}", **overrides)) for i in range(n)]
    assert all(response.status_code == 201 for response in made)
    return [response.get_json()["id"] for response in made]


def exclusive_offer(client, platform) -> int:
    slug = factories.create_dataset(client, platform)["slug"]
    factories.import_records(client, platform, slug, [factories.record(i) for i in range(4)])
    assert client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"]).status_code == 201
    made = client.post(f"/api/v1/datasets/{slug}/offers", headers=platform["headers"],
                       json=factories.offer_body(exclusive=True))
    assert client.post(f"/api/v1/datasets/{slug}/publish", headers=platform["headers"]).status_code == 200
    return made.get_json()["id"]


def counts() -> tuple[int, int]:
    """(licenses, payments): a refused checkout adds neither (nor a PaymentIntent)."""
    db.session.expire_all()
    return (db.session.scalar(select(func.count()).select_from(License)),
            db.session.scalar(select(func.count()).select_from(Payment)))


def lapsed_hours_ago(license_id: int, hours: float) -> None:
    """The clock moves the license's deadline `hours` into the past (the API can't make time pass)."""
    row = db.session.get(License, license_id)
    row.pay_by = utcnow() - timedelta(hours=hours)
    db.session.commit()


# ---- the cap on pending licenses -------------------------------------------------------------


def test_a_buyer_has_at_most_ten_licenses_waiting_for_payment(client, app, platform, buyer, stripe_gateway):
    assert app.config["MAX_PENDING_LICENSES"] == 10
    offers = dataset_offers(client, platform, 12)
    first = [buy(client, buyer, offer_id) for offer_id in offers[:10]]
    assert [response.status_code for response in first] == [201] * 10
    before = counts()
    refused = assert_error(buy(client, buyer, offers[10]), 409, "10 licenses waiting for payment",
                           "pay or cancel one")
    assert refused["message"] == (
        "Your organization has 10 licenses waiting for payment (at most 10 at once): pay or cancel one of "
        "them under Licenses before starting another checkout.")
    assert counts() == before
    # Accepting an offer already waiting reuses its license: not a new one, so not refused.
    assert buy(client, buyer, offers[0]).get_json()["id"] == first[0].get_json()["id"]
    # Another buyer has its own count.
    assert buy(client, factories.signup(client, "buyer", "Other Lab"), offers[10]).status_code == 201
    # Canceling one makes room; so does one whose 30 minutes passed.
    assert client.post(f"/api/v1/licenses/{first[1].get_json()['id']}/cancel",
                       headers=buyer["headers"]).status_code == 200
    assert buy(client, buyer, offers[10]).status_code == 201
    assert buy(client, buyer, offers[11]).status_code == 409
    let_pay_by_pass(first[2].get_json()["id"])
    assert buy(client, buyer, offers[11]).status_code == 201


def test_the_cap_is_configured_and_the_checkout_page_says_what_to_do(client, app, platform, buyer,
                                                                      stripe_gateway):
    offers = dataset_offers(client, platform, 3)
    limit = app.config["MAX_PENDING_LICENSES"]
    app.config["MAX_PENDING_LICENSES"] = 2
    try:
        assert [buy(client, buyer, offer_id).status_code for offer_id in offers[:2]] == [201, 201]
        before = counts()
        factories.login(client, buyer)
        page = client.post(f"/offers/{offers[2]}/checkout", follow_redirects=True)
        assert page.request.path == f"/offers/{offers[2]}/checkout"
        assert b"2 licenses waiting for payment (at most 2 at once): pay or cancel one" in page.data
        assert counts() == before
    finally:
        app.config["MAX_PENDING_LICENSES"] = limit


# ---- the cool-down after an unpaid reservation of an exclusive offer --------------------------


def test_a_lapsed_reservation_of_an_exclusive_offer_cant_be_renewed_for_a_day(client, app, platform, buyer,
                                                                               stripe_gateway):
    assert app.config["EXCLUSIVE_RESERVATION_COOLDOWN_HOURS"] == 24
    offer_id = exclusive_offer(client, platform)
    first = buy(client, buyer, offer_id).get_json()
    let_pay_by_pass(first["id"])
    deadline = db.session.get(License, first["id"]).pay_by
    again_at = deadline + timedelta(hours=24)
    shown = again_at.replace(second=0, microsecond=0) + timedelta(minutes=1)
    before = counts()
    refused = assert_error(buy(client, buyer, offer_id), 409)
    assert refused["message"] == (
        f"Your reservation of this exclusive offer ended unpaid at {deadline:%Y-%m-%d %H:%M} UTC; you can "
        f"reserve it again from {shown:%Y-%m-%d %H:%M} UTC. Other buyers may license it meanwhile.")
    assert refused["available_at"] == shown.isoformat(timespec="microseconds") + "Z"
    assert counts() == before
    # The expiry job saving the cancel changes nothing; another buyer may take the offer meanwhile.
    assert licensing.expire_due(db.session) == 1
    db.session.commit()
    assert buy(client, buyer, offer_id).status_code == 409
    other = factories.signup(client, "buyer", "Patient Lab")
    taken = buy(client, other, offer_id)
    assert taken.status_code == 201
    assert client.post(f"/api/v1/licenses/{taken.get_json()['id']}/cancel", headers=other["headers"]).status_code == 200
    # 24 hours after the deadline the first buyer may reserve it again.
    lapsed_hours_ago(first["id"], 23.9)
    assert buy(client, buyer, offer_id).status_code == 409
    lapsed_hours_ago(first["id"], 24.01)
    assert buy(client, buyer, offer_id).status_code == 201


def test_canceling_a_reservation_of_an_exclusive_offer_starts_the_cool_down_too(client, platform, buyer,
                                                                                  stripe_gateway):
    offer_id = exclusive_offer(client, platform)
    first = buy(client, buyer, offer_id).get_json()
    factories.login(client, buyer)
    done = client.post(f"/licenses/{first['id']}/cancel", follow_redirects=True)
    assert b"You can reserve this exclusive offer again in 24 hours." in done.data
    assert assert_error(buy(client, buyer, offer_id), 409, "ended unpaid", "reserve it again from")
    page = client.post(f"/offers/{offer_id}/checkout", follow_redirects=True)
    assert b"Your reservation of this exclusive offer ended unpaid" in page.data
    assert buy(client, factories.signup(client, "buyer", "Next Lab"), offer_id).status_code == 201


@pytest.mark.parametrize("exclusive", [False, True])
def test_no_cool_down_for_a_non_exclusive_offer_or_when_turned_off(client, app, platform, buyer, stripe_gateway,
                                                                     exclusive):
    offer_id = exclusive_offer(client, platform) if exclusive else dataset_offers(client, platform, 1)[0]
    hours = app.config["EXCLUSIVE_RESERVATION_COOLDOWN_HOURS"]
    if exclusive:
        app.config["EXCLUSIVE_RESERVATION_COOLDOWN_HOURS"] = 0
    try:
        first = buy(client, buyer, offer_id).get_json()
        let_pay_by_pass(first["id"])
        again = buy(client, buyer, offer_id)
        assert again.status_code == 201 and again.get_json()["id"] != first["id"]
    finally:
        app.config["EXCLUSIVE_RESERVATION_COOLDOWN_HOURS"] = hours


def test_the_checkout_page_of_an_exclusive_offer_warns_of_the_cool_down(client, platform, buyer, stripe_gateway):
    offer_id = exclusive_offer(client, platform)
    factories.login(client, buyer)
    page = client.get(f"/offers/{offer_id}/checkout")
    assert b"you can reserve it again only after 24 hours" in page.data
