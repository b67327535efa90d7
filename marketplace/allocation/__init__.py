"""Allocation: how one payment is divided among the marketplace, the platform and the contributors.

The rule is `split.py` (pure integer functions quoting SPEC.md's money rules);
`sql.py` states the same rule as set-based SQL; `services.py` allocates a payment
and posts it to the ledger; `reversal.py` applies refunds and disputes by
recomputation; `check.py` holds the allocation invariants `ledger check` runs.
The ledger knows accounts and money only; this package knows the product.
"""
