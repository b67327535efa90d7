"""Invariant 7: random sequences of payments, refunds, disputes, consent changes and replays, against
a simple model of every balance, compared after each step.

The model knows nothing of SQL: it keeps the consent decisions and, per payment, who was eligible at
its time and how much is held back; every expected balance is recomputed from those with the
pure-integer rule (split.py). Each Hypothesis example runs in a savepoint of the test's rolled-back
transaction (and uses fresh keys and names), so examples don't see each other's rows.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from marketplace.allocation.reversal import reverse_to
from marketplace.allocation.split import largest_remainder, split
from marketplace.consent.services import record_consent
from marketplace.extensions import db
from marketplace.ledger.check import run_check
from marketplace.ledger.models import MARKETPLACE
from tests.ledger import helpers

#: Platform A's contributors, and their weights in A's two datasets (records).
A_REGIONS = {"amy": "US", "ben": "BR", "chloe": "FR", "dae": "KR"}
A_OPT_OUT = {"amy": 3, "ben": 2, "chloe": 1, "dae": 4}
A_OPT_IN = {"amy": 1, "ben": 5, "chloe": 2}
#: Platform B's contributors and their weights (tokens, beyond 32 bits).
B_REGIONS = {"eve": "US", "finn": "DE", "gus": "JP"}
B_TOKENS = {"eve": 3_000_000_000, "finn": 1_000_000_001, "gus": 7}
SCOPES = ["ai-train", "ai-input"]


@dataclass
class Listing:
    dataset: object
    platform_id: int
    policy: str
    weights: dict[str, int]
    regions: dict[str, str]


@dataclass
class Payment:
    listing: Listing
    allocation: object
    gross: int
    share_bps: int
    scopes: tuple[str, ...]
    paid_at: datetime
    #: (external id, weight) of those eligible at the payment's time, as the model decided.
    eligible: list[tuple[str, int]]
    held: int = 0
    open_disputes: list[int] = field(default_factory=list)
    #: Every reversal posted: (key, refunded total), to replay.
    reversals: list[tuple[str, int]] = field(default_factory=list)


class LedgerModel(RuleBasedStateMachine):
    @initialize()
    def setup(self):
        self.savepoint = db.session.begin_nested()
        owner_a, owner_b = helpers.platform(), helpers.platform()
        self.listings = [
            Listing(helpers.dataset(owner_a, [(p, A_REGIONS[p], w) for p, w in A_OPT_OUT.items()]),
                    owner_a.id, "opt_out", A_OPT_OUT, A_REGIONS),
            Listing(helpers.dataset(owner_a, [(p, A_REGIONS[p], w) for p, w in A_OPT_IN.items()], policy="opt_in"),
                    owner_a.id, "opt_in", A_OPT_IN, A_REGIONS),
            Listing(helpers.dataset(owner_b, [(p, B_REGIONS[p], w) for p, w in B_TOKENS.items()],
                                    weighting="tokens"), owner_b.id, "opt_out", B_TOKENS, B_REGIONS),
        ]
        self.clock = helpers.PAID_AT
        #: (platform id, person, dataset id or None, scope, status), in the order recorded, with time.
        self.decisions: list[tuple] = []
        self.payments: list[Payment] = []
        self.baseline = helpers.balances()

    def teardown(self):
        if getattr(self, "savepoint", None) is not None and self.savepoint.is_active:
            self.savepoint.rollback()
            db.session.expunge_all()  # ids are reused after the rollback: forget the old objects

    # ---- the consent rule, the simple way ---------------------------------------------------------

    def allows(self, listing: Listing, person: str, scope: str, at: datetime) -> bool:
        dataset_id = listing.dataset.id
        candidates = [
            (d_dataset is not None, d_scope != "*", d_at, order, status)
            for order, (platform_id, d_person, d_dataset, d_scope, status, d_at) in enumerate(self.decisions)
            if platform_id == listing.platform_id and d_person == person and d_at <= at
            and d_dataset in (None, dataset_id) and d_scope in ("*", scope)
        ]
        if candidates:
            return max(candidates)[-1] == "granted"
        return listing.policy == "opt_out" and listing.regions[person] not in helpers.OPT_IN

    def expected_balances(self) -> dict[tuple[str, int], int]:
        expected: dict[tuple[str, int], int] = defaultdict(int)
        for payment in self.payments:
            fee, to_platform, pool = split(payment.gross - payment.held, helpers.FEE_BPS, payment.share_bps)
            expected[("payment_clearing", MARKETPLACE)] -= payment.gross
            expected[("refunds_disputes", MARKETPLACE)] += payment.held
            expected[("marketplace_fees", MARKETPLACE)] += fee
            expected[("platform_payable", payment.listing.platform_id)] += to_platform
            if payment.eligible:
                for (person, _w), amount in zip(payment.eligible, largest_remainder(pool, payment.eligible),
                                                strict=True):
                    contributor = helpers.contributor(payment.listing.dataset, person)
                    expected[("contributor_payable", contributor.id)] += amount
            else:
                expected[("dataset_unallocated", payment.listing.dataset.id)] += pool
        return {account: amount for account, amount in expected.items() if amount}

    # ---- what can happen ---------------------------------------------------------------------------

    @rule(which=st.integers(min_value=0, max_value=2), gross=st.integers(min_value=1, max_value=10**10),
          scopes=st.sampled_from([("ai-train",), ("ai-input",), tuple(SCOPES)]),
          share_bps=st.sampled_from([5000, 7500, 10_000]))
    def pay(self, which, gross, scopes, share_bps):
        listing = self.listings[which]
        at = self.clock
        self.clock += timedelta(minutes=1)
        allocation = helpers.pay(listing.dataset, gross, scopes=scopes, at=at, share_bps=share_bps)
        eligible = [(person, weight) for person, weight in listing.weights.items()
                    if all(self.allows(listing, person, scope, at) for scope in scopes)]
        self.payments.append(Payment(listing, allocation, gross, share_bps, scopes, at, eligible))
        assert allocation.eligible_count == len(eligible)

    def _hold(self, payment: Payment, total: int) -> None:
        key = helpers.unique("reversal")
        reverse_to(db.session, payment.allocation, total, key=key)
        payment.held = total
        payment.reversals.append((key, total))

    @precondition(lambda self: any(p.held < p.gross for p in self.payments))
    @rule(data=st.data())
    def partial_refund(self, data):
        payment = data.draw(st.sampled_from([p for p in self.payments if p.held < p.gross]))
        self._hold(payment, payment.held + data.draw(st.integers(min_value=1, max_value=payment.gross - payment.held)))

    @precondition(lambda self: any(p.held < p.gross for p in self.payments))
    @rule(data=st.data())
    def refund_the_rest(self, data):
        payment = data.draw(st.sampled_from([p for p in self.payments if p.held < p.gross]))
        self._hold(payment, payment.gross)

    @precondition(lambda self: any(p.held < p.gross for p in self.payments))
    @rule(data=st.data())
    def open_dispute(self, data):
        payment = data.draw(st.sampled_from([p for p in self.payments if p.held < p.gross]))
        amount = data.draw(st.integers(min_value=1, max_value=payment.gross - payment.held))
        payment.open_disputes.append(amount)
        self._hold(payment, payment.held + amount)

    @precondition(lambda self: any(p.open_disputes for p in self.payments))
    @rule(data=st.data())
    def win_dispute(self, data):
        payment = data.draw(st.sampled_from([p for p in self.payments if p.open_disputes]))
        self._hold(payment, payment.held - payment.open_disputes.pop())

    @rule(which=st.integers(min_value=0, max_value=2), person=st.integers(min_value=0, max_value=3),
          dataset_level=st.booleans(), scope=st.sampled_from(["*", *SCOPES]),
          status=st.sampled_from(["granted", "withdrawn"]))
    def consent(self, which, person, dataset_level, scope, status):
        listing = self.listings[which]
        name = sorted(listing.regions)[person % len(listing.regions)]
        contributor = helpers.contributor(listing.dataset, name)
        # At the clock's current time: a payment made next, at the same time, counts it.
        record_consent(db.session, contributor, status=status, scope=scope, source="test", at=self.clock,
                       dataset=listing.dataset if dataset_level else None)
        self.decisions.append((listing.platform_id, name, listing.dataset.id if dataset_level else None,
                               scope, status, self.clock))

    @precondition(lambda self: self.payments)
    @rule(data=st.data())
    def replay_a_payment(self, data):
        payment = data.draw(st.sampled_from(self.payments))
        entries = helpers.entry_count()
        again = helpers.pay(payment.listing.dataset, payment.gross, key=payment.allocation.payment_key,
                            scopes=payment.scopes, at=payment.paid_at, share_bps=payment.share_bps)
        assert again.id == payment.allocation.id
        assert helpers.entry_count() == entries

    @precondition(lambda self: any(p.reversals for p in self.payments))
    @rule(data=st.data())
    def replay_a_reversal(self, data):
        payment = data.draw(st.sampled_from([p for p in self.payments if p.reversals]))
        key, total = data.draw(st.sampled_from(payment.reversals))  # any of them, not only the last
        entries = helpers.entry_count()
        reverse_to(db.session, payment.allocation, total, key=key)
        assert helpers.entry_count() == entries

    # ---- after every step ----------------------------------------------------------------------------

    @invariant()
    def every_balance_matches_the_model(self):
        if not hasattr(self, "baseline"):
            return
        actual = {account: amount - self.baseline.get(account, 0)
                  for account, amount in helpers.balances().items()}
        assert {account: amount for account, amount in actual.items() if amount} == self.expected_balances()

    @invariant()
    def the_check_passes(self):
        if not hasattr(self, "baseline"):
            return
        result = run_check(db.session)
        assert result.balanced, result.violations


def test_the_ledger_matches_a_simple_model(app):
    run_state_machine_as_test(LedgerModel, settings=settings(
        max_examples=15, stateful_step_count=12, deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]))
