"""`flask payouts run | settle | reconcile`, and a person with identities on two platforms."""
from __future__ import annotations

from marketplace.contributors.identities import link
from marketplace.extensions import db
from tests.ledger import helpers as ledger
from tests.payouts.helpers import batch_account_for, kind_total, payouts, person_with
from tests.payouts.test_runs import PEOPLE


def test_run_settle_and_reconcile_from_the_command_line(runner, tmp_path):
    owner = ledger.platform()
    made = ledger.dataset(owner, PEOPLE)
    ledger.pay(made, 12_345)
    batch_account_for(user=person_with(made, "ann"))
    batch_account_for(organization=owner)
    db.session.commit()

    ran = runner.invoke(args=["payouts", "run", "--batch-size", "1"])
    assert ran.exit_code == 0, ran.output
    assert "2 payouts reserved, 97.71 USD; skipped 1 below the threshold, 1 without a ready account, 0 negative" \
        in ran.output
    ann, platform = payouts()
    ann_id, platform_id, run_id = ann.id, platform.id, ann.run_id
    results = tmp_path / "results.csv"
    results.write_text(f"payout_id,status,reason\n{ann_id},paid\n{platform_id},failed,Account closed\n")
    settled = runner.invoke(args=["payouts", "settle", str(run_id), str(results)])
    assert settled.exit_code == 0 and f"Run {run_id}: 1 paid, 1 failed." in settled.output
    assert kind_total("paid_out") == 3_907

    bad = tmp_path / "bad.csv"
    bad.write_text("1,paid,a,b\n")
    refused = runner.invoke(args=["payouts", "settle", str(run_id), str(bad)])
    assert refused.exit_code == 1 and "line 1" in refused.output
    assert runner.invoke(args=["payouts", "reconcile"]).exit_code == 0


def test_a_person_with_two_identities_is_paid_one_payout_per_payable_to_one_account(runner):
    forum, photos = ledger.platform(), ledger.platform()
    on_forum, on_photos = ledger.dataset(forum, PEOPLE), ledger.dataset(photos, PEOPLE)
    ledger.pay(on_forum, 12_345)
    ledger.pay(on_photos, 20_000)  # fee 1_000, pool 9_500: ann 6_329
    ann = person_with(on_forum, "ann")
    link(db.session, ledger.contributor(on_photos, "ann"), ann)
    account_id = batch_account_for(user=ann, email="ann@paypal.test").id
    ids = (ledger.contributor(on_forum, "ann").id, ledger.contributor(on_photos, "ann").id)
    db.session.commit()

    assert runner.invoke(args=["payouts", "run"]).exit_code == 0

    assert sorted((p.owner_id, p.amount, p.payout_account_id, p.destination) for p in payouts()) == sorted([
        (ids[0], 3_907, account_id, "ann@paypal.test"), (ids[1], 6_329, account_id, "ann@paypal.test")])
