"""`flask demo`'s payouts: claimed contributors and both platforms with batch accounts, one run
paid, one in transit, and a ledger and reconciliation that agree."""
from __future__ import annotations

from sqlalchemy import func, select

from marketplace.extensions import db
from marketplace.payouts.models import Payout, PayoutAccount
from tests.payouts.helpers import ledger_balanced


def test_the_demo_pays_one_run_and_leaves_one_in_transit(runner):
    result = runner.invoke(args=["demo", "--scale", "small"])
    assert result.exit_code == 0, result.output

    by_run = db.session.execute(select(Payout.run_id, Payout.status, func.count())
                                .group_by(Payout.run_id, Payout.status).order_by(Payout.run_id)).all()
    assert [(status, count > 0) for _run, status, count in by_run] == [("paid", True), ("in_transit", True)]
    owners = db.session.execute(select(func.count(PayoutAccount.user_id), func.count(PayoutAccount.organization_id))
                                .where(PayoutAccount.provider == "batch", PayoutAccount.status == "ready")).one()
    assert owners[0] >= 4 and owners[1] == 2
    assert ledger_balanced()
    assert runner.invoke(args=["payouts", "reconcile"]).exit_code == 0
