"""Reconciliation: the ledger's paid-out amounts per payout against Stripe's transfers (net of
reversals) and the batch processor's imported results. Every difference is listed; the command
exits 1 on any."""
from __future__ import annotations

from marketplace.extensions import db
from marketplace.payouts import batch, reconcile, runner
from tests import factories
from tests.ledger import helpers as ledger
from tests.ledger.test_check import admin_key
from tests.payouts.helpers import batch_account_for, payouts, person_with
from tests.payouts.test_runs import PEOPLE
from tests.payouts.test_stripe import stripe_ready


def stripe_market(connect):
    owner = ledger.platform()
    made = ledger.dataset(owner, PEOPLE)
    ledger.pay(made, 12_345)
    stripe_ready(connect, person_with(made, "ann"))
    stripe_ready(connect, person_with(made, "bo"))
    runner.run(started_by="test")
    ann, bo = payouts()
    return ann, bo


def check(connect):
    return reconcile.reconcile(db.session, connect.gateway)


def test_agreeing_sides_match(connect):
    stripe_market(connect)
    result = check(connect)
    assert result.clean and result.matched == 2


def test_a_transfer_missing_at_the_processor(connect, runner):
    ann, _bo = stripe_market(connect)
    del connect.transfers[ann.transfer_id]

    result = check(connect)

    assert result.missing_at_processor == [{"payout_id": ann.id, "transfer_id": None, "ledger": 3_907,
                                            "processor": 0}]
    assert (result.matched, result.missing_in_ledger, result.amount_mismatch) == (1, [], [])
    assert runner.invoke(args=["payouts", "reconcile"]).exit_code == 1


def test_a_transfer_missing_in_the_ledger(connect):
    owner = ledger.platform()
    made = ledger.dataset(owner, PEOPLE)
    ledger.pay(made, 12_345)
    stripe_ready(connect, person_with(made, "ann"))
    connect.fail_next("/v1/transfers", "lost")  # Stripe made it; the ledger never heard
    runner.run(started_by="test")
    (payout,) = payouts()
    (made_transfer,) = connect.transfers.values()
    connect.transfers["tr_not_ours"] = {**made_transfer, "id": "tr_not_ours", "amount": 10, "metadata": {}}

    result = check(connect)

    assert result.missing_in_ledger == [
        {"payout_id": None, "transfer_id": "tr_not_ours", "ledger": 0, "processor": 10},
        {"payout_id": payout.id, "transfer_id": made_transfer["id"], "ledger": 0, "processor": 3_907}]
    assert result.matched == 0 and result.missing_at_processor == [] and result.amount_mismatch == []


def test_an_amount_mismatch(client, connect, runner):
    _ann, bo = stripe_market(connect)
    connect.transfers[bo.transfer_id]["amount_reversed"] = 1_000  # a partial reversal we never booked

    result = check(connect)

    assert result.amount_mismatch == [{"payout_id": bo.id, "transfer_id": bo.transfer_id, "ledger": 1_953,
                                       "processor": 953}]
    assert result.matched == 1
    db.session.commit()
    admin = factories.bearer(admin_key(runner))
    body = client.get("/api/v1/admin/payouts/reconcile", headers=admin).get_json()
    assert body["amount_mismatch"] == result.amount_mismatch and body["matched"] == 1


def test_batch_results_are_the_processor_side():
    owner = ledger.platform()
    made = ledger.dataset(owner, PEOPLE)
    ledger.pay(made, 12_345)
    batch_account_for(user=person_with(made, "ann"))
    batch_account_for(organization=owner)
    outcome = runner.run(started_by="test")
    ann, platform = payouts()
    batch.import_results(db.session, outcome.run_id, f"{ann.id},paid\n{platform.id},failed\n")

    result = reconcile.reconcile(db.session, None)

    assert result.clean and result.matched == 1


def test_the_admin_page_lists_the_differences(client, connect, runner, platform):
    _ann, bo = stripe_market(connect)
    connect.transfers[bo.transfer_id]["amount_reversed"] = 1_000  # a partial reversal we never booked
    db.session.commit()
    email = f"{ledger.unique('admin')}@example.test"
    admin_key(runner, email, "long enough password")
    factories.login(client, {"email": email, "password": "long enough password"})

    page = client.get("/admin/payouts/reconcile")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-reconciled="differences"' in text and "1 difference found</strong>: 1 payout matches." in text
    row = text.split('id="amount_mismatch-heading"', 1)[1].split("</table>", 1)[0]
    assert f"<td>#{bo.id}</td><td><code>{bo.transfer_id}</code></td><td>19.53 USD</td><td>9.53 USD</td>" in row
    assert 'href="/admin/payouts/reconcile"' in client.get("/admin/payouts").get_data(as_text=True)
    client.post("/logout")
    factories.login(client, platform)
    assert client.get("/admin/payouts/reconcile").status_code == 403


def test_the_admin_page_says_when_stripe_cannot_be_listed(client, connect, runner):
    stripe_market(connect)
    db.session.commit()
    email = f"{ledger.unique('admin')}@example.test"
    admin_key(runner, email, "long enough password")
    factories.login(client, {"email": email, "password": "long enough password"})
    connect.fail_next("/v1/transfers", "500", "500", "500")  # retries included

    page = client.get("/admin/payouts/reconcile")

    assert page.status_code == 502
    assert "Stripe could not be listed, so nothing was compared." in page.get_data(as_text=True)
