"""A license's count of contributors paid is stored with each posting that moves shares
(allocation_paid_counts), and migration 0017 counts the allocations made before it existed."""
from __future__ import annotations

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import select, text

from marketplace.allocation.models import AllocationPaidCount
from marketplace.allocation.reports import allocation_totals
from marketplace.allocation.reversal import reverse_to
from marketplace.extensions import db
from tests.isolated import app_on
from tests.ledger import helpers

PEOPLE = [("ann", "US", 1), ("bo", "US", 1), ("cy", "US", 1), ("dee", "US", 1)]


def stored_counts() -> dict[int, list[int]]:
    counts: dict[int, list[int]] = {}
    for allocation_id, paid in db.session.execute(
            select(AllocationPaidCount.allocation_id, AllocationPaidCount.contributors_paid)
            .order_by(AllocationPaidCount.transaction_id)):
        counts.setdefault(allocation_id, []).append(paid)
    return counts


def test_each_posting_that_moves_shares_stores_the_count(app):
    """A pool of 2 cents over four equal contributors pays two of them (the leftover cents go by
    tie-break key); refunds move the count."""
    made = helpers.dataset(helpers.platform(), PEOPLE)
    small = helpers.pay(made, 2, fee_bps=0, share_bps=10_000)
    large = helpers.pay(made, 10_000)
    assert allocation_totals(db.session, [small.id])["contributors_paid"] == 2
    assert allocation_totals(db.session, [large.id])["contributors_paid"] == 4
    reverse_to(db.session, large, 9_994, key=helpers.unique("refund"))  # a pool of 3 cents is left
    reverse_to(db.session, large, 9_994, key=helpers.unique("refund"))  # moves nothing: no row
    assert allocation_totals(db.session, [large.id])["contributors_paid"] == 3
    assert stored_counts() == {small.id: [2], large.id: [4, 3]}
    # Two payments together: a contributor paid by both is counted once.
    assert allocation_totals(db.session, [small.id, large.id])["contributors_paid"] == 3


@pytest.mark.isolated_db
def test_the_migration_counts_the_allocations_made_before_it(tmp_path):
    with app_on(f"sqlite:///{tmp_path / 'counts.sqlite3'}") as market, market.app_context():
        made = helpers.dataset(helpers.platform(), PEOPLE)
        small = helpers.pay(made, 2, fee_bps=0, share_bps=10_000)
        large = helpers.pay(made, 10_000)
        reverse_to(db.session, large, 9_994, key=helpers.unique("refund"))
        refunded = helpers.pay(made, 5_000)
        reverse_to(db.session, refunded, 5_000, key=helpers.unique("refund"))
        db.session.commit()
        as_posted = stored_counts()
        assert as_posted == {small.id: [2], large.id: [4, 3], refunded.id: [4, 0]}
        db.session.remove()
        downgrade(revision="0016")
        assert "allocation_paid_counts" not in db.inspect(db.engine).get_table_names()
        upgrade()
        # One row per allocation, at its latest posting, with the count the postings had stored.
        assert {allocation: counts[-1:] for allocation, counts in as_posted.items()} == stored_counts()
        with pytest.raises(Exception, match="append-only"):
            db.session.execute(text("UPDATE allocation_paid_counts SET contributors_paid = 1"))
        db.session.rollback()


def test_a_reversal_posted_without_a_count_is_counted_from_the_lines(app):
    """A reversal that moved shares but wrote no count (code from before the counts, still running
    while the migration ran): the stored count is older than the shares, so it isn't used."""
    from marketplace.ledger import posting
    from marketplace.ledger.models import MARKETPLACE

    made = helpers.dataset(helpers.platform(), PEOPLE)
    allocation = helpers.pay(made, 4, fee_bps=0, share_bps=10_000)  # a cent each
    assert allocation_totals(db.session, [allocation.id])["contributors_paid"] == 4
    ann = helpers.contributor(made, "ann").id
    posting.post_transaction(db.session, key=helpers.unique("old-code-refund"), kind="reversal", currency="usd",
                             allocation_id=allocation.id, refunded_total=1, reverses_id=allocation.transaction_id,
                             entries=[("contributor_payable", ann, -1), ("refunds_disputes", MARKETPLACE, 1)])
    assert stored_counts() == {allocation.id: [4]}
    assert allocation_totals(db.session, [allocation.id])["contributors_paid"] == 3
