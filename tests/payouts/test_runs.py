"""Runs with the batch provider, through the services and the admin API.

The dataset: ann (US, 1000 records), bo (US, 500), cy (US, 1). A 12_345 payment: fee 617,
platform 5_864, pool 5_864 split 1000:500:1 → ann 3_907, bo 1_953, cy 4 (the rule's numbers,
asserted below from the ledger). The threshold is 100.
"""
from __future__ import annotations

import pytest

from marketplace.allocation.reversal import reverse_to
from marketplace.errors import Conflict
from marketplace.extensions import db
from marketplace.payouts import batch, services
from marketplace.payouts.models import PayoutStatus
from tests import factories
from tests.ledger import helpers as ledger
from tests.ledger.test_check import admin_key
from tests.payouts.helpers import (
    batch_account_for,
    kind_total,
    ledger_balanced,
    payable,
    payouts,
    person_with,
)

PEOPLE = [("ann", "US", 1000), ("bo", "US", 500), ("cy", "US", 1)]


@pytest.fixture
def market():
    owner = ledger.platform()
    made = ledger.dataset(owner, PEOPLE)
    allocation = ledger.pay(made, 12_345)
    ids = {name: ledger.contributor(made, name).id for name, _r, _w in PEOPLE}
    assert {name: payable("contributor_payable", cid) for name, cid in ids.items()} == \
        {"ann": 3_907, "bo": 1_953, "cy": 4}
    assert payable("platform_payable", owner.id) == 5_864
    return {"platform": owner, "dataset": made, "allocation": allocation, "ids": ids}


def run_now():
    run = services.start_run(db.session, currency="usd", threshold=100, started_by="test")
    return run, services.reserve_all(db.session, run, limit=2)


def test_a_run_reserves_every_payable_due_with_a_ready_account_once(market):
    ann = person_with(market["dataset"], "ann")
    person_with(market["dataset"], "bo")  # claimed, no payout account
    cy = person_with(market["dataset"], "cy")
    batch_account_for(user=ann)
    batch_account_for(user=cy)  # ready, but 4 is below the threshold
    batch_account_for(organization=market["platform"])

    run, reserved = run_now()

    assert sorted((r.account, r.amount) for r in reserved) == [("contributor_payable", 3_907),
                                                               ("platform_payable", 5_864)]
    assert (run.below_threshold, run.no_account, run.negative) == (1, 1, 0)
    assert payable("contributor_payable", market["ids"]["ann"]) == 0
    assert payable("platform_payable", market["platform"].id) == 0
    assert kind_total("payouts_in_transit") == 3_907 + 5_864
    assert {p.status for p in payouts()} == {PayoutStatus.IN_TRANSIT}
    assert ledger_balanced()

    again, nothing = run_now()
    assert nothing == []
    assert (again.below_threshold, again.no_account, again.negative) == (1, 1, 0)
    assert len(payouts()) == 2


def test_results_settle_paid_and_return_failed_and_repeats_change_nothing(market):
    ann = person_with(market["dataset"], "ann")
    batch_account_for(user=ann, email="ann@paypal.test")
    batch_account_for(organization=market["platform"], email="forum@paypal.test")
    run, _reserved = run_now()
    to_ann, to_platform = sorted(payouts(), key=lambda p: p.account)

    assert "".join(batch.file_lines(db.session, run.id)) == (
        f"ann@paypal.test,39.07,USD,{to_ann.id},Dividend payout {to_ann.id},PAYPAL\n"
        f"forum@paypal.test,58.64,USD,{to_platform.id},Dividend payout {to_platform.id},PAYPAL\n")

    results = f"payout_id,status,reason\n{to_ann.id},paid\n{to_platform.id},failed,Receiver unregistered\n"
    assert batch.import_results(db.session, run.id, results) == {"paid": 1, "failed": 1}
    assert (to_ann.status, to_platform.status) == ("paid", "failed")
    assert to_platform.failure_reason == "Receiver unregistered"
    assert kind_total("paid_out") == 3_907
    assert kind_total("payouts_in_transit") == 0
    assert payable("platform_payable", market["platform"].id) == 5_864
    entries = ledger.entry_count()

    assert batch.import_results(db.session, run.id, results) == {"paid": 1, "failed": 1}
    assert ledger.entry_count() == entries
    assert ledger_balanced()

    # The platform's money is paid by the next run (its payout failed: it is no longer in transit).
    _run, retried = run_now()
    assert [(r.account, r.amount) for r in retried] == [("platform_payable", 5_864)]


def test_a_bad_results_line_is_named_and_nothing_is_written(market):
    ann = person_with(market["dataset"], "ann")
    batch_account_for(user=ann)
    run, _ = run_now()
    (payout,) = payouts()
    entries = ledger.entry_count()
    for text, line in [(f"{payout.id},paid\n{payout.id + 999},paid\n", "line 2"),
                       (f"{payout.id},paid\nabc,paid\n", "line 2"),
                       (f"{payout.id},sent\n", "line 1"),
                       (f"{payout.id},paid\n{payout.id},failed\n", "line 2"),
                       (f"{payout.id}\n", "line 1")]:
        with pytest.raises(Exception) as raised:
            batch.import_results(db.session, run.id, text)
        assert raised.value.code == 422 and line in raised.value.message, raised.value.message
    assert payout.status == "in_transit" and ledger.entry_count() == entries

    batch.import_results(db.session, run.id, f"{payout.id},paid\n")
    with pytest.raises(Conflict) as raised:
        batch.import_results(db.session, run.id, f"{payout.id},failed\n")
    assert raised.value.code == 409 and "line 1" in raised.value.message


def test_a_negative_balance_is_never_paid_and_nets_against_later_earnings(market):
    ann = person_with(market["dataset"], "ann")
    batch_account_for(user=ann)
    run, _ = run_now()
    batch.import_results(db.session, run.id, f"{payouts()[0].id},paid\n")
    # The whole payment is refunded after ann was paid: her payable goes negative.
    reverse_to(db.session, market["allocation"], 12_345, key=ledger.unique("refund"))
    assert payable("contributor_payable", market["ids"]["ann"]) == -3_907

    run, reserved = run_now()
    assert reserved == [] and run.negative == 1

    ledger.pay(market["dataset"], 12_345)  # nets to 0: nothing to pay
    run, reserved = run_now()
    assert reserved == [] and (run.negative, run.below_threshold) == (0, 1)  # cy: 4

    ledger.pay(market["dataset"], 12_345)
    _run, reserved = run_now()
    assert [(r.account, r.amount) for r in reserved] == [("contributor_payable", 3_907)]
    assert ledger_balanced()


# ---- over HTTP ----------------------------------------------------------------------------

def test_the_admin_api_runs_serves_the_file_and_imports_results(client, runner, market):
    ann = person_with(market["dataset"], "ann", email=f"{ledger.unique('ann')}@example.test")
    batch_account_for(user=ann, email="ann@paypal.test")
    db.session.commit()
    admin = factories.bearer(admin_key(runner))

    created = client.post("/api/v1/admin/payout-runs", json={}, headers=admin)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["payouts"] == 1 and body["total"] == {"amount": 3_907, "currency": "usd"}
    assert body["skipped"] == {"below_threshold": 1, "no_account": 2, "negative": 0}
    (payout,) = payouts()

    csv_file = client.get(f"/api/v1/admin/payout-runs/{body['id']}/batch.csv", headers=admin)
    assert csv_file.status_code == 200 and csv_file.mimetype == "text/csv"
    assert csv_file.get_data(as_text=True) == f"ann@paypal.test,39.07,USD,{payout.id},Dividend payout {payout.id},PAYPAL\n"

    bad = client.post(f"/api/v1/admin/payout-runs/{body['id']}/results", data="1,maybe\n",
                      headers={**admin, "Content-Type": "text/csv"})
    assert bad.status_code == 422 and "line 1" in bad.get_json()["message"]
    settled = client.post(f"/api/v1/admin/payout-runs/{body['id']}/results", data=f"{payout.id},paid\n",
                          headers={**admin, "Content-Type": "text/csv"})
    assert settled.status_code == 200 and settled.get_json() == {"paid": 1, "failed": 0}
    assert client.get(f"/api/v1/admin/payout-runs/{body['id'] + 1}/batch.csv", headers=admin).status_code == 404
    assert client.post("/api/v1/admin/payout-runs", json={}, headers=factories.bearer("nope")).status_code == 401


def test_the_bulk_path_hashes_each_step_as_post_transaction_does():
    from marketplace.ledger import posting
    from marketplace.payouts.postings import STEPS, PayoutRef, canonical_hash, entries

    for account in ("contributor_payable", "platform_payable"):
        payout = PayoutRef(id=7, account=account, owner_id=42, currency="usd", amount=3_907)
        for step in STEPS:
            assert canonical_hash(step, payout) == posting.request_hash(
                {"kind": "payout", "currency": "usd", "entries": sorted(entries(step, payout))})


def test_ledger_check_finds_a_payout_the_ledger_does_not_show(market, runner):
    from sqlalchemy import text

    ann = person_with(market["dataset"], "ann")
    batch_account_for(user=ann)
    run_now()
    assert runner.invoke(args=["ledger", "check"]).exit_code == 0
    # A status changed behind the ledger's back (the services never do this).
    db.session.execute(text("UPDATE payouts SET status = 'paid'"))
    checked = runner.invoke(args=["ledger", "check"])
    assert checked.exit_code == 1 and "payouts match the ledger" in checked.output
