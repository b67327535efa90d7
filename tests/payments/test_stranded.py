"""A succeeded payment whose settlement job was lost (a worker killed after taking it from the
queue) is settled by the sweep every worker start and every ten minutes run; once."""
from __future__ import annotations

from marketplace import jobs
from marketplace.extensions import db
from marketplace.payments.jobs import settle_stranded_payments
from tests.licensing.helpers import get, succeeded
from tests.payments.helpers import (
    bought,
    deliver,
    expected_split,
    ledger_size,
    split_of,
    transaction,
)


def sweep() -> None:
    """Run the sweep as the worker does, outside any transaction of the test's (the test's requests
    share its session: a GET's rollback would take back the sweep's commits nested in one)."""
    db.session.commit()
    settle_stranded_payments()


def test_a_payment_whose_settlement_job_was_lost_is_settled_once_by_the_sweep(client, app, buyer, offer_id,
                                                                            stripe_gateway):
    license = bought(client, buyer, offer_id)
    jobs.huey.immediate = False  # the settlement job is queued in memory…
    try:
        deliver(client, app, succeeded(license, "ch_test_stranded"))
    finally:
        jobs.huey.immediate = True  # …and lost with it
    assert get(client, buyer, license["id"])["status"] == "pending_payment"
    assert split_of(client, buyer, license["id"]) is None
    assert ledger_size() == (0, 0)

    sweep()

    assert get(client, buyer, license["id"])["status"] == "active"
    assert split_of(client, buyer, license["id"]) == expected_split(0)
    assert transaction(f"payment:{license['payment']['payment_intent_id']}").kind == "allocation"
    posted = ledger_size()
    sweep()  # nothing stranded any more: nothing posted
    assert ledger_size() == posted
