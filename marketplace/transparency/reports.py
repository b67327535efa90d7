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
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from marketplace.accounts.models import Organization
from marketplace.allocation.models import Allocation
from marketplace.catalog.models import SCOPES, Dataset
from marketplace.db import utcnow
from marketplace.delivery.withdrawals import overdue_licenses
from marketplace.ledger.models import MARKETPLACE, LedgerEntry, LedgerTransaction
from marketplace.licensing.models import License
from marketplace.money import Money
from marketplace.transparency.consent_rates import (
    ConsentCounts,
    consent_counts,
    consent_question,
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
  WHERE e.account IN ('payment_clearing', 'refunds_disputes') AND e.owner_id = 0 AND p.license_id IS NOT NULL
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
    #: Licenses with a withdrawal older than ACK_OVERDUE_DAYS that their buyer has not acknowledged.
    licenses_ack_overdue: int = 0


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
                   at: datetime | None = None, ack_overdue_days: int = 30) -> DatasetReport:
    """The public transparency report of `dataset` (the caller decides who may see it)."""
    at = at or utcnow()
    params = {"dataset_id": dataset.id, "currency": currency}
    figures = _figures(session, WHERE_DATASET, params, currency, count_paid=False).get(dataset.id, Figures(currency))
    histogram = payout_histogram(session, dataset.id, currency)
    # Shares of a dataset never go below zero (refunds recompute them down to nothing at
    # most), so the histogram's contributors are exactly those with a non-zero share.
    figures = replace(figures, contributors_paid=sum(bucket.contributors for bucket in histogram))
    by_scope = dict(session.execute(text(
        POSTINGS.format(where=WHERE_DATASET) + SOLD + "\nSELECT os.scope, COUNT(*) FROM sold s "
        "JOIN licenses l ON l.id = s.license_id JOIN offer_scopes os ON os.offer_id = l.offer_id "
        "GROUP BY os.scope"), params).all())
    scopes = offered_scopes(session, dataset.id)
    question = consent_question(session, dataset, scopes, opt_in_regions, at)
    return DatasetReport(
        dataset=dataset, figures=figures,
        licenses_by_scope={scope: int(by_scope[scope]) for scope in SCOPES if scope in by_scope},
        payout_histogram=histogram,
        offered_scopes=scopes,
        consent=consent_counts(session, question),
        eligible_now_by_scope=eligible_now_by_scope(session, question),
        licenses_ack_overdue=overdue_licenses(session, dataset.id, days=ack_overdue_days,
                                              opt_in_regions=opt_in_regions, now=at),
    )


def _figures(session: Session, where: str, params: dict, currency: str, *,
             count_paid: bool = True) -> dict[int, Figures]:
    """{dataset id: Figures} for the allocations `where` selects (`contributors_paid` only when
    `count_paid`: that one reads every contributor line)."""
    values: dict[int, dict] = defaultdict(dict)
    prefix = POSTINGS.format(where=where)
    # Only the few entries that are not contributor lines: the marketplace's (owner 0), the
    # platform's and the dataset's, each a look-up in the (transaction, owner) index, where a
    # payment's transaction may hold a million lines. The contributors' total is then what
    # balances each transaction (the seal trigger refuses any transaction that does not sum to
    # zero), so it is still exactly the sum of their entries.
    for dataset_id, account, amount in session.execute(text(
        prefix + "\nSELECT p.dataset_id, e.account, SUM(e.amount) FROM postings p "
        "JOIN datasets d ON d.id = p.dataset_id "
        "JOIN ledger_entries e ON e.transaction_id = p.transaction_id "
        "AND e.owner_id IN (0, d.platform_id, d.id) AND e.account <> 'contributor_payable' "
        "GROUP BY p.dataset_id, e.account"
    ), params):
        if account in SHARE_NAMES:
            values[dataset_id][SHARE_NAMES[account]] = int(amount)
        elif account == "payment_clearing":  # credited −gross by each allocation
            values[dataset_id]["paid"] = -int(amount)
        elif account == "refunds_disputes":  # what each reversal gave back
            values[dataset_id]["refunded"] = int(amount)
    for row in values.values():
        others = sum(row.get(name, 0) for name in ("marketplace_fees", "to_platform", "unallocated"))
        row["to_contributors"] = row.get("paid", 0) - row.get("refunded", 0) - others
    if count_paid:
        for dataset_id, paid in session.execute(text(
                prefix + NETS + "\nSELECT dataset_id, COUNT(*) FROM nets WHERE net <> 0 GROUP BY dataset_id"),
                params):
            values[dataset_id]["contributors_paid"] = int(paid)
    for dataset_id, sold in session.execute(text(
        prefix + SOLD + "\nSELECT dataset_id, COUNT(*) FROM sold GROUP BY dataset_id"), params):
        values[dataset_id]["licenses_sold"] = int(sold)
    return {dataset_id: Figures(currency, **row) for dataset_id, row in values.items()}


def bucket_sql(amount: str) -> str:
    """Two columns, `width` and `step`, that place a positive `amount` in its 1-2-5 bucket (see
    `bucket_low`) from its decimal digits alone: no join against a table of edges, which
    compared every share with every edge."""
    digits = f"CAST({amount} AS VARCHAR(24))"
    return (f"LENGTH({digits}) AS width, CASE WHEN SUBSTR({digits}, 1, 1) < '2' THEN 1 "
            f"WHEN SUBSTR({digits}, 1, 1) < '5' THEN 2 ELSE 5 END AS step")


def bucket_low(width: int, step: int) -> int:
    """The bucket's lower edge: d digits and a leading digit L put an amount in [m·10^(d−1), next
    edge) with m = 1 for L = 1, 2 for L in 2…4, 5 for L ≥ 5."""
    return int(step) * 10 ** (int(width) - 1)


def payout_histogram(session: Session, dataset_id: int, currency: str) -> list[Bucket]:
    """How many contributors hold each size of net share, in 1-2-5 steps of minor units.

    Only contributors with a share above zero count (a share of a dataset never goes below
    zero: refunds recompute it down to at least nothing). The buckets run without gaps from
    the smallest share's to the largest's; empty when nobody was paid.
    """
    counts: dict[int, int] = defaultdict(int)
    for width, step, contributors in session.execute(text(
        POSTINGS.format(where=WHERE_DATASET) + NETS +
        f"\nSELECT {bucket_sql('n.net')}, COUNT(*) FROM nets n WHERE n.net > 0 GROUP BY 1, 2"
    ), {"dataset_id": dataset_id, "currency": currency}):
        counts[bucket_low(width, step)] += int(contributors)
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
    rows = []
    for dataset in datasets:
        question = consent_question(session, dataset, offered_scopes(session, dataset.id), opt_in_regions, at)
        rows.append(PlatformDataset(dataset, figures.get(dataset.id, Figures(currency)),
                                    consent_counts(session, question)))
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
               LedgerEntry.owner_id == MARKETPLACE, LedgerEntry.account == "refunds_disputes")
        .group_by(LedgerTransaction.allocation_id)).all()) if rows else {}
    return [{"license_id": a.license_id, "dataset": slug, "buyer": buyer, "scopes": a.scopes,
             "paid": Money(a.gross, currency), "refunded": Money(int(given_back.get(a.id, 0)), currency),
             "paid_at": a.paid_at}
            for a, slug, buyer in rows]
