"""Transparency reports: how a dataset's money was shared, and a platform's own report.

Every money figure is a sum of ledger entries, net of refunds and open disputes:
the postings of the dataset's allocations plus their reversals (reversal
transactions carry `allocation_id`). By SPEC.md's money rules the four shares
(marketplace fees, platform, contributors, unallocated) of each payment add up
to its gross minus what was refunded, so they add up to `paid − refunded` here
too; `gross` is their sum. All of it is set-based SQL grouped by dataset, so one
query answers one dataset or all of a platform's, on SQLite and PostgreSQL.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from marketplace.accounts.models import Organization
from marketplace.catalog.models import SCOPES, Dataset
from marketplace.db import utcnow
from marketplace.ledger.models import Allocation, LedgerEntry, LedgerTransaction
from marketplace.licensing.models import License
from marketplace.money import Money
from marketplace.transparency.consent_rates import (
    ConsentCounts,
    consent_counts,
    eligible_now_by_scope,
    offered_scopes,
)

#: Ledger account → the report's name for that share.
SHARE_NAMES = {
    "marketplace_fees": "marketplace_fees",
    "platform_payable": "to_platform",
    "contributor_payable": "to_contributors",
    "dataset_unallocated": "unallocated",
}

# The transactions that make a dataset's shares: each allocation's own posting and every
# reversal of it. `{where}` is one of WHERE_DATASET / WHERE_PLATFORM (never caller text).
POSTINGS = """
WITH allocated AS (
  SELECT id, dataset_id, license_id, transaction_id FROM allocations
  WHERE {where} AND currency = :currency
),
postings AS (
  SELECT dataset_id, license_id, transaction_id FROM allocated
  UNION ALL
  SELECT a.dataset_id, a.license_id, t.id FROM allocated a JOIN ledger_transactions t ON t.allocation_id = a.id
)"""
WHERE_DATASET = "dataset_id = :dataset_id"
WHERE_PLATFORM = "platform_id = :platform_id"

# A contributor's net share of one dataset (allocation lines plus their reversals).
NETS = """,
nets AS (
  SELECT p.dataset_id, e.owner_id, CAST(SUM(e.amount) AS BIGINT) AS net
  FROM postings p JOIN ledger_entries e ON e.transaction_id = p.transaction_id
  WHERE e.account = 'contributor_payable'
  GROUP BY p.dataset_id, e.owner_id
)"""

# A license counts as sold while some of its money stands: what was paid for it (the allocation
# postings debit payment_clearing by the gross) minus what was refunded or is held by an open
# dispute (the reversals credit refunds_disputes) is above zero. A fully refunded license, or one
# whose payment was never allocated, does not count; renewals don't count it twice.
SOLD = """,
kept AS (
  SELECT p.dataset_id, p.license_id, -CAST(SUM(e.amount) AS BIGINT) AS kept
  FROM postings p JOIN ledger_entries e ON e.transaction_id = p.transaction_id
  WHERE e.account IN ('payment_clearing', 'refunds_disputes') AND p.license_id IS NOT NULL
  GROUP BY p.dataset_id, p.license_id
),
sold AS (SELECT dataset_id, license_id FROM kept WHERE kept > 0)"""

#: Histogram edges in minor units: 1, 2, 5, 10, 20, 50, … (the last bucket has no upper end).
EDGES = [m * 10**e for e in range(18) for m in (1, 2, 5)] + [10**18]


@dataclass(frozen=True)
class Figures:
    """A dataset's (or a platform's) money, net of refunds."""

    currency: str
    paid: int = 0
    refunded: int = 0
    marketplace_fees: int = 0
    to_platform: int = 0
    to_contributors: int = 0
    unallocated: int = 0
    #: Contributors whose net share is not zero.
    contributors_paid: int = 0
    #: Licenses with money standing (see SOLD).
    licenses_sold: int = 0

    def money(self, name: str) -> Money:
        return Money(self.gross if name == "gross" else getattr(self, name), self.currency)

    @property
    def gross(self) -> int:
        """The four shares' sum; equals paid − refunded by the money rules."""
        return self.marketplace_fees + self.to_platform + self.to_contributors + self.unallocated


@dataclass(frozen=True)
class Bucket:
    """Contributors whose net share of the dataset is in [low, high) (high None: no upper end)."""

    low: Money
    high: Money | None
    contributors: int

    @property
    def label(self) -> str:
        if self.high is None:
            return f"{self.low} or more"
        return f"{self.low} to {Money(self.high.amount - 1, self.high.currency)}"


@dataclass(frozen=True)
class DatasetReport:
    dataset: Dataset
    figures: Figures
    licenses_by_scope: dict[str, int]
    payout_histogram: list[Bucket]
    #: The scopes the consent counts and eligibility are about (the dataset's open offers').
    offered_scopes: list[str]
    consent: ConsentCounts
    #: Per offered scope: contributors of the latest version eligible now (the one rule).
    eligible_now_by_scope: dict[str, int]


@dataclass(frozen=True)
class PlatformDataset:
    """One row of the platform's report."""

    dataset: Dataset
    figures: Figures
    consent: ConsentCounts


@dataclass(frozen=True)
class PlatformReport:
    datasets: list[PlatformDataset]
    totals: Figures
    #: The platform's payable: everything credited to it, less what was paid out.
    balance: Money
    allocations: int
    recent_sales: list[dict] = field(default_factory=list)


# ---- the dataset's report ------------------------------------------------------------------


def dataset_report(session: Session, dataset: Dataset, *, currency: str, opt_in_regions: frozenset[str],
                   at: datetime | None = None) -> DatasetReport:
    """The public transparency report of `dataset` (the caller decides who may see it)."""
    at = at or utcnow()
    params = {"dataset_id": dataset.id, "currency": currency}
    figures = _figures(session, WHERE_DATASET, params, currency).get(dataset.id, Figures(currency))
    by_scope = dict(session.execute(text(
        POSTINGS.format(where=WHERE_DATASET) + SOLD + "\nSELECT os.scope, COUNT(*) FROM sold s "
        "JOIN licenses l ON l.id = s.license_id JOIN offer_scopes os ON os.offer_id = l.offer_id "
        "GROUP BY os.scope"), params).all())
    scopes = offered_scopes(session, dataset.id)
    return DatasetReport(
        dataset=dataset, figures=figures,
        licenses_by_scope={scope: int(by_scope[scope]) for scope in SCOPES if scope in by_scope},
        payout_histogram=payout_histogram(session, dataset.id, currency),
        offered_scopes=scopes,
        consent=consent_counts(session, dataset, scopes, opt_in_regions, at),
        eligible_now_by_scope=eligible_now_by_scope(session, dataset, scopes, opt_in_regions, at),
    )


def _figures(session: Session, where: str, params: dict, currency: str) -> dict[int, Figures]:
    """{dataset id: Figures} for the allocations `where` selects."""
    values: dict[int, dict] = defaultdict(dict)
    prefix = POSTINGS.format(where=where)
    for dataset_id, account, amount in session.execute(text(
        prefix + "\nSELECT p.dataset_id, e.account, SUM(e.amount) FROM postings p "
        "JOIN ledger_entries e ON e.transaction_id = p.transaction_id GROUP BY p.dataset_id, e.account"
    ), params):
        if account in SHARE_NAMES:
            values[dataset_id][SHARE_NAMES[account]] = int(amount)
        elif account == "payment_clearing":  # credited −gross by each allocation
            values[dataset_id]["paid"] = -int(amount)
        elif account == "refunds_disputes":  # what each reversal gave back
            values[dataset_id]["refunded"] = int(amount)
    for dataset_id, paid in session.execute(text(
        prefix + NETS + "\nSELECT dataset_id, COUNT(*) FROM nets WHERE net <> 0 GROUP BY dataset_id"), params):
        values[dataset_id]["contributors_paid"] = int(paid)
    for dataset_id, sold in session.execute(text(
        prefix + SOLD + "\nSELECT dataset_id, COUNT(*) FROM sold GROUP BY dataset_id"), params):
        values[dataset_id]["licenses_sold"] = int(sold)
    return {dataset_id: Figures(currency, **row) for dataset_id, row in values.items()}


def payout_histogram(session: Session, dataset_id: int, currency: str) -> list[Bucket]:
    """How many contributors hold each size of net share, in 1-2-5 steps of minor units.

    Only contributors with a share above zero count (a share of a dataset never goes below
    zero: refunds recompute it down to at least nothing). The buckets run without gaps from
    the smallest share's to the largest's; empty when nobody was paid.
    """
    edges = " UNION ALL ".join(
        f"SELECT CAST({low} AS BIGINT) AS low, CAST({high} AS BIGINT) AS high"
        for low, high in zip(EDGES, EDGES[1:], strict=False)
    ) + f" UNION ALL SELECT CAST({EDGES[-1]} AS BIGINT), CAST(NULL AS BIGINT)"
    counts = dict(session.execute(text(
        POSTINGS.format(where=WHERE_DATASET) + NETS + f",\nbuckets AS ({edges})\n"
        "SELECT b.low, COUNT(*) FROM nets n JOIN buckets b "
        "ON n.net >= b.low AND (b.high IS NULL OR n.net < b.high) GROUP BY b.low"
    ), {"dataset_id": dataset_id, "currency": currency}).all())
    if not counts:
        return []
    lows = sorted(int(low) for low in counts)
    first, last = EDGES.index(lows[0]), EDGES.index(lows[-1])
    return [
        Bucket(Money(EDGES[i], currency), Money(EDGES[i + 1], currency) if i + 1 < len(EDGES) else None,
               int(counts.get(EDGES[i], 0)))
        for i in range(first, last + 1)
    ]


# ---- the platform's report -----------------------------------------------------------------


def platform_report(session: Session, platform_id: int, *, currency: str, opt_in_regions: frozenset[str],
                    recent: int = 10, at: datetime | None = None) -> PlatformReport:
    """The platform's datasets with their figures and consent, totals, balance and recent sales."""
    at = at or utcnow()
    params = {"platform_id": platform_id, "currency": currency}
    datasets = list(session.scalars(select(Dataset).where(Dataset.platform_id == platform_id)
                                    .order_by(Dataset.title, Dataset.id)))
    figures = _figures(session, WHERE_PLATFORM, params, currency)
    rows = [PlatformDataset(d, figures.get(d.id, Figures(currency)),
                            consent_counts(session, d, offered_scopes(session, d.id), opt_in_regions, at))
            for d in datasets]
    paid_anywhere = session.execute(text(
        POSTINGS.format(where=WHERE_PLATFORM) + NETS +
        "\nSELECT COUNT(*) FROM (SELECT owner_id FROM nets GROUP BY owner_id HAVING SUM(net) <> 0) paid"
    ), params).scalar()
    sums = {name: sum(getattr(row.figures, name) for row in rows)
            for name in ("paid", "refunded", "marketplace_fees", "to_platform", "to_contributors",
                         "unallocated", "licenses_sold")}
    balance = session.execute(text(
        "SELECT COALESCE(SUM(amount), 0) FROM ledger_entries "
        "WHERE account = 'platform_payable' AND owner_id = :platform_id AND currency = :currency"), params).scalar()
    allocations = session.execute(text(
        "SELECT COUNT(*) FROM allocations WHERE platform_id = :platform_id AND currency = :currency"), params).scalar()
    return PlatformReport(
        datasets=rows, totals=Figures(currency, contributors_paid=int(paid_anywhere), **sums),
        balance=Money(int(balance), currency), allocations=int(allocations),
        recent_sales=recent_sales(session, platform_id, currency, recent),
    )


def recent_sales(session: Session, platform_id: int, currency: str, limit: int) -> list[dict]:
    """The latest allocated payments: license, dataset, buyer, scopes, paid and refunded so far."""
    rows = session.execute(
        select(Allocation, Dataset.slug, Organization.name)
        .join(Dataset, Dataset.id == Allocation.dataset_id)
        .outerjoin(License, License.id == Allocation.license_id)
        .outerjoin(Organization, Organization.id == License.buyer_id)
        .where(Allocation.platform_id == platform_id, Allocation.currency == currency)
        .order_by(Allocation.paid_at.desc(), Allocation.id.desc()).limit(limit)).all()
    given_back = dict(session.execute(
        select(LedgerTransaction.allocation_id, func.sum(LedgerEntry.amount))
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .where(LedgerTransaction.allocation_id.in_([a.id for a, _, _ in rows]),
               LedgerEntry.account == "refunds_disputes")
        .group_by(LedgerTransaction.allocation_id)).all()) if rows else {}
    return [{"license_id": a.license_id, "dataset": slug, "buyer": buyer, "scopes": a.scopes,
             "paid": Money(a.gross, currency), "refunded": Money(int(given_back.get(a.id, 0)), currency),
             "paid_at": a.paid_at}
            for a, slug, buyer in rows]
