"""Issue 4's end-to-end promise, through HTTP only: license, pay on localstripe, signed webhook,
active license, an exact split in the ledger, a partial refund reversed by the rule, a clean check."""
from __future__ import annotations

import itertools
import time

import orjson
import pytest
import requests
import stripe

from marketplace.allocation.split import largest_remainder, split

pytestmark = [pytest.mark.live]
_n = itertools.count(1)


def sign_up(base: str, kind: str) -> dict:
    n = next(_n)
    response = requests.post(f"{base}/api/v1/organizations", json={
        "kind": kind, "name": f"{kind} over http {n}",
        "owner": {"email": f"{kind}-http-{n}@example.test", "password": "correct horse battery"}}, timeout=10)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['api_key']}"}


def publish(base: str, headers: dict, contributors: list[tuple[str, str, int]]) -> dict:
    """A dataset whose contributors have the given (external id, region, records)."""
    slug = f"http-dataset-{next(_n)}"
    body = {"slug": slug, "title": "Woodworking posts", "summary": "Joinery threads.", "content_kind": "post",
            "languages": ["en"], "consent_policy": "opt_out", "weighting": "records"}
    assert requests.post(f"{base}/api/v1/datasets", json=body, headers=headers, timeout=10).status_code == 201
    lines = [{"external_id": f"{person}-{i}", "contributor": {"external_id": person, "region": region},
              "text": "dovetail joints by hand", "created_at": "2024-01-01T00:00:00Z"}
             for person, region, count in contributors for i in range(count)]
    imported = requests.post(f"{base}/api/v1/datasets/{slug}/records",
                             data=b"".join(orjson.dumps(line) + b"\n" for line in lines),
                             headers={**headers, "Content-Type": "application/x-ndjson"}, timeout=30)
    assert imported.status_code == 200, imported.text
    assert requests.post(f"{base}/api/v1/datasets/{slug}/versions", json={}, headers=headers,
                         timeout=30).status_code == 201
    offer = requests.post(f"{base}/api/v1/datasets/{slug}/offers", headers=headers, timeout=10, json={
        "name": "Training", "scopes": ["ai-train"], "term_months": 12, "territory": ["*"],
        "price": {"model": "flat", "amount": 123_457, "currency": "usd"}, "contributor_share_bps": 6000})
    assert offer.status_code == 201, offer.text
    assert requests.post(f"{base}/api/v1/datasets/{slug}/publish", headers=headers, timeout=10).status_code == 200
    return offer.json()


def confirm_with_test_card(localstripe_url: str, license: dict) -> None:
    """The buyer confirms the license's PaymentIntent with a test card, as any Stripe client would."""
    client = stripe.StripeClient("sk_test_fake", base_addresses={"api": localstripe_url})
    intent_id = license["payment"]["payment_intent_id"]
    token = client.v1.tokens.create(params={"card": {"number": "4242424242424242", "exp_month": 12,
                                                     "exp_year": 2034, "cvc": "123"}})
    client.v1.payment_intents.update(intent_id, params={"payment_method": token.card.id})
    assert client.v1.payment_intents.confirm(intent_id).status == "succeeded"


def wait_for_status(base: str, headers: dict, license_id: int, status: str) -> dict:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        body = requests.get(f"{base}/api/v1/licenses/{license_id}", headers=headers, timeout=10).json()
        if body["status"] == status:
            return body
        time.sleep(0.2)
    pytest.fail(f"license {license_id} never became {status}: {body['status']}")


def test_buy_pay_webhook_split_refund_check(live_server, localstripe_url):
    base = live_server.url
    platform, buyer = sign_up(base, "platform"), sign_up(base, "buyer")
    # FR is an opt-in region: that contributor never granted, so gets nothing.
    offer = publish(base, platform, [("ann", "US", 5), ("bob", "CA", 3), ("chloe", "FR", 4), ("dan", "JP", 1)])
    created = requests.post(f"{base}/api/v1/licenses", json={"offer_id": offer["id"]},
                            headers={**buyer, "Idempotency-Key": "order-1"}, timeout=30)
    assert created.status_code == 201, created.text
    license = created.json()
    assert (license["status"], license["price"]) == ("pending_payment", {"amount": 123_457, "currency": "usd"})
    again = requests.post(f"{base}/api/v1/licenses", json={"offer_id": offer["id"]},
                          headers={**buyer, "Idempotency-Key": "order-1"}, timeout=30).json()
    assert (again["id"], again["payment"]["payment_intent_id"]) == (license["id"], license["payment"]["payment_intent_id"])

    confirm_with_test_card(localstripe_url, license)

    active = wait_for_status(base, buyer, license["id"], "active")  # localstripe's signed webhook did it
    gross = 123_457
    fee, to_platform, pool = split(gross, 500, 6000)
    assert (fee, to_platform, pool) == (6172, 46914, 70371)
    shares = largest_remainder(pool, [("ann", 5), ("bob", 3), ("dan", 1)])
    assert active["split"] == {
        "paid": {"amount": gross, "currency": "usd"}, "refunded": {"amount": 0, "currency": "usd"},
        "marketplace_fee": {"amount": fee, "currency": "usd"},
        "to_platform": {"amount": to_platform, "currency": "usd"},
        "to_contributors": {"amount": sum(shares), "currency": "usd"},
        "unallocated": {"amount": 0, "currency": "usd"}, "contributors_paid": 3,
    }
    assert fee + to_platform + sum(shares) == gross

    admin = live_server.flask("admin", "create", "refunds@example.test")
    admin_key = admin.stdout.strip().splitlines()[-1]
    refund = requests.post(f"{base}/api/v1/admin/licenses/{license['id']}/refunds", json={"amount": 23_457},
                           headers={"Authorization": f"Bearer {admin_key}"}, timeout=30)
    assert refund.status_code == 201, refund.text
    assert refund.json()["amount"] == {"amount": 23_457, "currency": "usd"}
    after = requests.get(f"{base}/api/v1/licenses/{license['id']}", headers=buyer, timeout=10).json()
    fee2, platform2, pool2 = split(gross - 23_457, 500, 6000)
    assert after["status"] == "active"
    assert after["split"]["refunded"]["amount"] == 23_457
    assert (after["split"]["marketplace_fee"]["amount"], after["split"]["to_platform"]["amount"],
            after["split"]["to_contributors"]["amount"]) == (fee2, platform2, pool2)

    check = live_server.flask("ledger", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert "OK: every invariant holds." in check.stdout


def test_another_buyers_license_is_a_404_and_a_platform_cannot_buy_its_own(live_server):
    base = live_server.url
    platform, buyer, other_buyer = sign_up(base, "platform"), sign_up(base, "buyer"), sign_up(base, "buyer")
    offer = publish(base, platform, [("eve", "US", 2)])
    mine = requests.post(f"{base}/api/v1/licenses", json={"offer_id": offer["id"]}, headers=buyer, timeout=30)
    assert mine.status_code == 201
    assert requests.get(f"{base}/api/v1/licenses/{mine.json()['id']}", headers=other_buyer,
                        timeout=10).status_code == 404
    own = requests.post(f"{base}/api/v1/licenses", json={"offer_id": offer["id"]}, headers=platform, timeout=30)
    assert own.status_code == 403
    assert own.json()["message"] == "A platform can't license its own dataset."
