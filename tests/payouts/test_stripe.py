"""The Stripe provider: Connect Express onboarding, one transfer per payout whatever fails or
crashes between the steps, refusals and reversals. Stripe answers through FakeConnect.

The market is test_runs.py's: ann is owed 3_907, the platform 5_864.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from marketplace.extensions import db
from marketplace.payouts import accounts, outcomes
from marketplace.payouts import runner as runner_module
from marketplace.payouts.accounts import Payee
from marketplace.payouts.models import Payout, PayoutAccount
from tests.contributors_factory import claimed
from tests.ledger import helpers as ledger
from tests.licensing.helpers import event, post_event
from tests.payouts.helpers import kind_total, ledger_balanced, payable, payouts, person_with
from tests.payouts.test_runs import PEOPLE


class Crash(BaseException):
    """A process dying: not an Exception, so nothing on the way catches it."""


@pytest.fixture
def market():
    owner = ledger.platform()
    made = ledger.dataset(owner, PEOPLE)
    ledger.pay(made, 12_345)
    return {"platform": owner, "dataset": made, "ann": ledger.contributor(made, "ann").id}


def stripe_ready(connect, user) -> str:
    state = accounts.set_stripe_account(db.session, Payee(user_id=user.id), connect.gateway, email=user.email,
                                        return_url="http://127.0.0.1:5000/me/payout-account")
    assert state.account.status == "onboarding" and state.onboarding_url.startswith("https://connect.stripe.com/")
    accounts.stripe_account_updated(db.session, state.account.stripe_account_id, payouts_enabled=True)
    db.session.commit()
    return state.account.stripe_account_id


def test_onboarding_over_the_api_and_ready_on_account_updated(client, app, connect):
    owner = ledger.platform()
    ledger.dataset(owner, PEOPLE)
    ann = claimed({"id": owner.id, "slug": owner.slug}, "ann")
    answer = client.put("/api/v1/me/payout-account", json={"provider": "stripe"}, headers=ann["headers"])
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert (body["provider"], body["status"]) == ("stripe", "onboarding")
    assert body["onboarding_url"].startswith("https://connect.stripe.com/setup/e/acct_fake")
    again = client.put("/api/v1/me/payout-account", json={"provider": "stripe"}, headers=ann["headers"]).get_json()
    assert len(connect.accounts) == 1 and again["status"] == "onboarding"  # the same connected account

    account_id = next(iter(connect.accounts))
    delivered = post_event(client, app, event("account.updated", {"id": account_id, "object": "account",
                                                                   "payouts_enabled": True}))
    assert delivered.status_code == 200
    assert db.session.scalar(select(PayoutAccount.status).where(PayoutAccount.stripe_account_id == account_id)) \
        == "ready"

    assert client.put("/api/v1/me/payout-account", json={"provider": "batch"},
                      headers=ann["headers"]).status_code == 422
    bad = client.put("/api/v1/me/payout-account", json={"provider": "batch", "email": "not-an-address"},
                     headers=ann["headers"])
    assert bad.status_code == 422 and "email" in bad.get_json()["message"]


def test_a_run_makes_one_transfer_per_payout_with_the_payout_key(market, connect):
    destination = stripe_ready(connect, person_with(market["dataset"], "ann"))

    outcome = runner_module.run(started_by="test")

    (payout,) = payouts()
    assert (outcome.reserved, outcome.sent, outcome.total) == (1, 1, 3_907)
    assert connect.transfer_posts() == [f"payout:{payout.id}"]
    (transfer,) = connect.transfers.values()
    assert (transfer["amount"], transfer["destination"], transfer["metadata"]) == \
        (3_907, destination, {"payout_id": str(payout.id)})
    assert (payout.status, payout.transfer_id) == ("paid", transfer["id"])
    assert (kind_total("paid_out"), kind_total("payouts_in_transit"), payable("contributor_payable", market["ann"])) \
        == (3_907, 0, 0)
    assert ledger_balanced()


def test_a_refused_transfer_returns_the_money(market, connect):
    stripe_ready(connect, person_with(market["dataset"], "ann"))
    connect.fail_next("/v1/transfers", ("refuse", "Your destination account needs to have transfers enabled."))

    outcome = runner_module.run(started_by="test")

    (payout,) = payouts()
    assert outcome.refused == 1
    assert payout.status == "failed" and "transfers enabled" in payout.failure_reason
    assert (payable("contributor_payable", market["ann"]), kind_total("payouts_in_transit"), kind_total("paid_out")) \
        == (3_907, 0, 0)
    assert connect.transfers == {}
    assert ledger_balanced()


@pytest.mark.parametrize("fault", ["500", "timeout", "lost"])
def test_an_unknown_outcome_stays_in_transit_and_the_next_run_retries_with_the_same_key(market, connect, fault):
    stripe_ready(connect, person_with(market["dataset"], "ann"))
    connect.fail_next("/v1/transfers", fault)

    first = runner_module.run(started_by="test")
    (payout,) = payouts()
    assert first.retrying == 1 and payout.status == "in_transit"
    assert kind_total("payouts_in_transit") == 3_907

    second = runner_module.run(started_by="test")
    (payout,) = payouts()
    assert (second.reserved, second.sent) == (0, 1)
    assert connect.transfer_posts() == [f"payout:{payout.id}"] * 2
    assert len(connect.transfers) == 1  # "lost": made by the first call, replayed to the second
    assert payout.status == "paid" and payout.transfer_id == next(iter(connect.transfers))
    assert kind_total("paid_out") == 3_907 and ledger_balanced()


CRASH_POINTS = ["after the reservation", "after the transfer, before its outcome is saved",
                "after the outcome is saved"]


@pytest.mark.parametrize("point", CRASH_POINTS)
def test_a_crash_after_any_step_then_a_rerun_makes_exactly_one_transfer(market, connect, monkeypatch, runner,
                                                                       point):
    ann = person_with(market["dataset"], "ann")
    stripe_ready(connect, ann)
    with monkeypatch.context() as patched:
        if point == CRASH_POINTS[0]:
            patched.setattr(runner_module, "send_transfer", crash)
        elif point == CRASH_POINTS[1]:
            patched.setattr(outcomes, "mark_paid", crash)
        else:
            real = runner_module.send_transfer

            def send_then_crash(*args):
                real(*args)
                raise Crash()

            patched.setattr(runner_module, "send_transfer", send_then_crash)
        with pytest.raises(Crash):
            runner_module.run(started_by="test")
    (payout,) = payouts()
    assert payout.status == ("paid" if point == CRASH_POINTS[2] else "in_transit")

    runner_module.run(started_by="test")
    runner_module.run(started_by="test")

    (payout,) = payouts()
    assert len(connect.transfers) == 1
    assert set(connect.transfer_posts()) == {f"payout:{payout.id}"}
    assert payout.status == "paid" and kind_total("paid_out") == 3_907
    assert runner.invoke(args=["ledger", "check"]).exit_code == 0


def crash(*_args, **_kwargs):
    raise Crash()


def test_a_reversed_transfer_returns_the_money_once(client, app, market, connect):
    stripe_ready(connect, person_with(market["dataset"], "ann"))
    runner_module.run(started_by="test")
    (payout,) = payouts()
    reversed_transfer = {"id": payout.transfer_id, "object": "transfer", "amount": 3_907,
                         "amount_reversed": 3_907, "reversed": True, "metadata": {"payout_id": str(payout.id)}}

    for _ in range(2):  # a new event id with the same facts changes nothing either
        assert post_event(client, app, event("transfer.reversed", reversed_transfer)).status_code == 200

    (payout,) = payouts()
    assert payout.status == "failed" and payout.failure_reason == "Reversed by Stripe."
    assert (payable("contributor_payable", market["ann"]), kind_total("paid_out")) == (3_907, 0)
    assert ledger_balanced()


def test_after_a_day_a_retry_looks_for_the_transfer_before_making_one(market, connect):
    stripe_ready(connect, person_with(market["dataset"], "ann"))
    connect.fail_next("/v1/transfers", "lost")
    runner_module.run(started_by="test")
    (payout,) = payouts()
    payout_id, reserved_at = payout.id, payout.created_at
    connect.forget_keys()  # a day later
    db.session.execute(update(Payout).where(Payout.id == payout_id).values(created_at=reserved_at - timedelta(hours=25)))
    db.session.commit()

    runner_module.run(started_by="test")

    (payout,) = payouts()
    assert len(connect.transfers) == 1 and connect.transfer_posts() == [f"payout:{payout_id}"]
    assert payout.status == "paid" and payout.transfer_id == next(iter(connect.transfers))
    assert ledger_balanced()
