"""StripeGateway's Connect calls against a client that answers as Stripe's API does
(FakeConnect): what is sent, idempotent replays, refusals, 5xx, timeouts and lost responses."""
from __future__ import annotations

import pytest

from marketplace.payments.gateway import GatewayError, StripeGateway, TransferRefused
from tests.payouts.fake_stripe import FakeConnect


@pytest.fixture
def fake():
    return FakeConnect(forward_to_localstripe=False)


def gateway(fake, retries: int = 0) -> StripeGateway:
    return StripeGateway("sk_test_fake", "https://api.stripe.test", http_client=fake, max_network_retries=retries)


def transfer(stripe: StripeGateway, key: str = "payout:1", amount: int = 3_907, destination: str = ""):
    return stripe.create_transfer(amount=amount, currency="usd", destination=destination, transfer_group="payout_run:1",
                                  metadata={"payout_id": "1"}, idempotency_key=key)


def test_an_express_account_its_link_and_a_transfer(fake):
    stripe = gateway(fake)
    account = stripe.create_connected_account(email="ann@example.test", metadata={"payee": "user:1"},
                                              idempotency_key="payout_account:user:1:stripe")
    assert fake.accounts[account]["type"] == "express"
    assert stripe.create_connected_account(email="ann@example.test", metadata={"payee": "user:1"},
                                           idempotency_key="payout_account:user:1:stripe") == account
    url = stripe.create_account_link(account, refresh_url="http://x/me", return_url="http://x/me")
    assert url.startswith(f"https://connect.stripe.com/setup/e/{account}/")

    made = transfer(stripe, destination=account)
    assert (made.amount, made.currency, made.destination) == (3_907, "usd", account)
    assert fake.requests[-1] == ("post", "/v1/transfers", "payout:1")
    (listed,) = stripe.list_transfers()
    assert (listed.id, listed.amount, listed.amount_reversed, listed.metadata) == (made.id, 3_907, 0, {"payout_id": "1"})


def test_the_same_key_replays_the_first_transfer_and_other_parameters_are_refused(fake):
    stripe = gateway(fake)
    account = stripe.create_connected_account(email=None, metadata={}, idempotency_key="a")
    first = transfer(stripe, destination=account)
    assert transfer(stripe, destination=account).id == first.id
    assert len(fake.transfers) == 1
    # Not a refusal: the key may have made a transfer, so the payout must stay in transit (never
    # returned to the payable and paid again under a new key).
    with pytest.raises(GatewayError, match="same parameters") as mismatch:
        transfer(stripe, destination=account, amount=1)
    assert not isinstance(mismatch.value, TransferRefused)


def test_a_lost_response_then_a_retry_with_the_key_gets_the_transfer_made_once(fake):
    stripe = gateway(fake)
    account = stripe.create_connected_account(email=None, metadata={}, idempotency_key="a")
    fake.fail_next("/v1/transfers", "lost")
    with pytest.raises(GatewayError) as lost:
        transfer(stripe, destination=account)
    assert not isinstance(lost.value, TransferRefused)
    assert len(fake.transfers) == 1
    assert transfer(stripe, destination=account).id == next(iter(fake.transfers))
    assert len(fake.transfers) == 1


@pytest.mark.parametrize("fault", ["500", "timeout"])
def test_a_5xx_or_a_timeout_is_an_unknown_outcome_not_a_refusal(fake, fault):
    stripe = gateway(fake)
    account = stripe.create_connected_account(email=None, metadata={}, idempotency_key="a")
    fake.fail_next("/v1/transfers", fault)
    with pytest.raises(GatewayError) as failed:
        transfer(stripe, destination=account)
    assert not isinstance(failed.value, TransferRefused)
    assert fake.transfers == {}
    assert transfer(stripe, destination=account).amount == 3_907  # not saved: the retry executes


def test_the_library_retries_a_5xx_with_the_same_key(fake, monkeypatch):
    monkeypatch.setattr("stripe._http_client.HTTPClient._sleep_time_seconds", lambda self, n: 0)
    stripe = gateway(fake, retries=2)
    account = stripe.create_connected_account(email=None, metadata={}, idempotency_key="a")
    fake.fail_next("/v1/transfers", "500", "lost")
    made = transfer(stripe, destination=account)
    assert fake.transfer_posts() == ["payout:1"] * 3
    assert list(fake.transfers) == [made.id]


def test_a_refusal_is_definitive_and_replayed(fake):
    stripe = gateway(fake)
    with pytest.raises(TransferRefused, match="No such destination"):
        transfer(stripe, destination="acct_unknown")
    with pytest.raises(TransferRefused, match="No such destination"):
        transfer(stripe, destination="acct_unknown")
    assert fake.transfers == {}
