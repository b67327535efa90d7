"""Invariant 7: random payments, refunds, consent changes and replays against a simple model."""
from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import func, select

from marketplace.consent.services import record_consent
from marketplace.extensions import db
from marketplace.ledger.allocation import reverse_to
from marketplace.ledger.check import run_check
from marketplace.ledger.models import LedgerEntry
from marketplace.ledger.split import largest_remainder, split
from tests.ledger import helpers

PEOPLE = [("amy", "US", 3), ("ben", "BR", 2), ("chloe", "FR", 1), ("dae", "KR", 4)]
SCOPES = ["ai-train", "ai-input"]


class LedgerModel(RuleBasedStateMachine):
    """Every balance the ledger holds, computed the simple way from the same decisions."""

    @initialize()
    def setup(self):
        self.owner = helpers.platform()
        self.dataset = helpers.dataset(self.owner, PEOPLE)
        self.ids = {name: helpers.contributor(self.dataset, name).id for name, _r, _w in PEOPLE}
        self.clock = helpers.PAID_AT
        self.consents: list[tuple] = []  # (at, order, person, dataset_level, scope, status)
        self.payments: list[dict] = []
        self.expected: dict[tuple[str, int], int] = {}

    # ---- the rule, the simple way --------------------------------------------------------

    def allows(self, person: str, region: str, scope: str) -> bool:
        relevant = [c for c in self.consents if c[2] == person and c[4] in (scope, "*")]
        if relevant:
            best = max(relevant, key=lambda c: (c[3], c[4] != "*", c[0], c[1]))
            return best[5] == "granted"
        return region not in helpers.OPT_IN  # opt_out dataset

    def shares(self, payment: dict, refunded: int) -> dict[tuple[str, int], int]:
        fee, to_platform, pool = split(payment["gross"] - refunded, 500, 5000)
        eligible = payment["eligible"]
        result = {("marketplace_fees", 0): fee, ("platform_payable", self.owner.id): to_platform,
                  ("refunds_disputes", 0): refunded, ("payment_clearing", 0): -payment["gross"]}
        if eligible:
            amounts = largest_remainder(pool, [(p, w) for p, w in eligible])
            for (person, _w), amount in zip(eligible, amounts, strict=True):
                result[("contributor_payable", self.ids[person])] = amount
        else:
            result[("dataset_unallocated", self.dataset.id)] = pool
        return result

    def apply(self, before: dict, after: dict) -> None:
        for account in set(before) | set(after):
            self.expected[account] = self.expected.get(account, 0) + after.get(account, 0) - before.get(account, 0)

    # ---- rules ---------------------------------------------------------------------------

    @rule(gross=st.integers(min_value=50, max_value=2_000_000), scopes=st.sampled_from([["ai-train"], ["ai-input"], SCOPES]))
    def pay(self, gross, scopes):
        self.clock += timedelta(minutes=1)
        allocation = helpers.pay(self.dataset, gross, scopes=scopes, at=self.clock)
        eligible = [(p, w) for p, r, w in PEOPLE if all(self.allows(p, r, s) for s in scopes)]
        payment = {"allocation": allocation, "gross": gross, "eligible": eligible, "refunded": 0,
                   "key": allocation.payment_key, "scopes": scopes, "at": self.clock, "refunds": 0}
        self.payments.append(payment)
        self.apply({}, self.shares(payment, 0))

    @rule(data=st.data())
    def refund(self, data):
        if not self.payments:
            return
        payment = data.draw(st.sampled_from(self.payments))
        left = payment["gross"] - payment["refunded"]
        if left == 0:
            return
        amount = data.draw(st.integers(min_value=1, max_value=left))
        before = self.shares(payment, payment["refunded"])
        payment["refunded"] += amount
        payment["refunds"] += 1
        reverse_to(db.session, payment["allocation"], payment["refunded"],
                   key=f"refund:{payment['key']}:{payment['refunds']}")
        self.apply(before, self.shares(payment, payment["refunded"]))

    @rule(person=st.sampled_from([p for p, _r, _w in PEOPLE]), dataset_level=st.booleans(),
          scope=st.sampled_from(["*", *SCOPES]), status=st.sampled_from(["granted", "withdrawn"]))
    def consent(self, person, dataset_level, scope, status):
        self.clock += timedelta(minutes=1)
        record_consent(db.session, helpers.contributor(self.dataset, person), status=status, scope=scope,
                       dataset=self.dataset if dataset_level else None, source="test", at=self.clock)
        self.consents.append((self.clock, len(self.consents), person, dataset_level, scope, status))

    @rule(data=st.data())
    def replay(self, data):
        if not self.payments:
            return
        payment = data.draw(st.sampled_from(self.payments))
        again = helpers.pay(self.dataset, payment["gross"], key=payment["key"], scopes=payment["scopes"],
                            at=payment["at"])
        assert again.id == payment["allocation"].id
        if payment["refunds"]:
            reverse_to(db.session, payment["allocation"], payment["refunded"],
                       key=f"refund:{payment['key']}:{payment['refunds']}")

    # ---- the check -----------------------------------------------------------------------

    @invariant()
    def balances_match_the_model(self):
        if not hasattr(self, "dataset"):
            return
        accounts = {account for account, amount in self.expected.items()}
        rows = dict(((account, owner), int(total)) for account, owner, total in db.session.execute(
            select(LedgerEntry.account, LedgerEntry.owner_id, func.sum(LedgerEntry.amount))
            .where(LedgerEntry.transaction_id.in_(self.transaction_ids()))
            .group_by(LedgerEntry.account, LedgerEntry.owner_id)))
        for account in accounts | set(rows):
            assert rows.get(account, 0) == self.expected.get(account, 0), account
        assert sum(rows.values()) == 0

    def transaction_ids(self):
        from marketplace.ledger.models import LedgerTransaction

        ids = [p["allocation"].id for p in self.payments]
        return select(LedgerTransaction.id).where(
            LedgerTransaction.id.in_([p["allocation"].transaction_id for p in self.payments])
            | LedgerTransaction.allocation_id.in_(ids))


def test_the_ledger_matches_a_simple_model(app):
    run_state_machine_as_test(LedgerModel, settings=settings(
        max_examples=12, stateful_step_count=12, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))
    assert run_check(db.session).balanced
