"""A contributor's statement: every ledger line of theirs, its totals and its months.

A line is one `contributor_payable` entry of one of the account's identities whose ledger
transaction is an allocation (positive) or a reversal of one (usually negative). The figures
are sums of those entries and nothing else, so each traces to a ledger entry:

- lifetime: the sum of every line, whatever the filters;
- balance: the sum of every entry of the identities' payables (lines and payouts alike);
- paid out: lifetime − balance, i.e. minus the entries of every other transaction on the
  payable: payouts (marketplace/payouts), whose reservation takes the amount off the payable
  and whose failure or reversal puts it back. So paid out is the payouts in transit or paid,
  as API.md says, and a failed payout counts back without a change here.

A statement is three set-based queries whatever the number of lines (the totals with the
datasets present, the months, the page of lines with everything it shows): the page must
render in well under 200 ms with thousands of them. The joins cross the catalog, licensing and accounts tables on
purpose: one query per page instead of one look-up per line.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import Select, and_, case, func, literal_column, select
from sqlalchemy.orm import Session, aliased

from marketplace.accounts.models import Organization
from marketplace.allocation.models import Allocation
from marketplace.catalog.contributors import identity_ids
from marketplace.catalog.models import Dataset
from marketplace.ledger.models import LedgerEntry, LedgerTransaction
from marketplace.licensing.models import License
from marketplace.money import Money

#: The transactions whose payable entries are earnings, i.e. statement lines.
EARNING_KINDS = ("allocation", "reversal")
PAYABLE = "contributor_payable"
#: Rows per round trip when streaming every line (CSV).
BATCH = 1000


@dataclass(frozen=True)
class Filters:
    """Which lines to list: created from `start` to `end` (whole days, UTC), of one dataset (slug)."""

    start: date | None = None
    end: date | None = None
    dataset: str | None = None


@dataclass(frozen=True)
class Line:
    entry_id: int
    transaction_id: int
    kind: str
    created_at: datetime
    amount: Money
    license_id: int | None
    dataset: str
    dataset_title: str
    buyer: str | None
    scopes: list[str]


@dataclass(frozen=True)
class Totals:
    balance: Money
    lifetime: Money
    paid_out: Money


@dataclass(frozen=True)
class Month:
    """One calendar month (UTC) of the filtered lines."""

    month: str  # "YYYY-MM"
    earned: int  # allocations
    reversed: int  # reversals (refunds and disputes; negative)
    lines: int

    @property
    def net(self) -> int:
        return self.earned + self.reversed


@dataclass(frozen=True)
class Statement:
    totals: Totals
    #: This page of the filtered lines, newest first.
    items: list[Line]
    #: How many lines the filters keep (all pages).
    total: int
    page: int
    per_page: int
    #: The filtered lines by month, oldest first, months without a line included (as zeros).
    months: list[Month]
    #: (slug, title) of every dataset the account has a line in, for the filter.
    datasets: list[tuple[str, str]]
    #: Whether the account has any line at all (before filtering): the empty state.
    has_lines: bool

    @property
    def pages(self) -> int:
        return (self.total + self.per_page - 1) // self.per_page

    @property
    def filtered_sum(self) -> int:
        return sum(month.net for month in self.months)


def statement(session: Session, user_id: int, *, currency: str, filters: Filters = Filters(),
              page: int = 1, per_page: int = 50) -> Statement:
    """The statement of the account `user_id` (all its identities) in `currency`.

    Totals are over every line; `items`, `total` and `months` follow `filters`. Raises nothing:
    an account without identities or lines has an empty statement.
    """
    ids = identity_ids(session, user_id)
    zero = Money(0, currency)
    if not ids:
        return Statement(Totals(zero, zero, zero), [], 0, page, per_page, [], [], has_lines=False)
    totals, datasets = _totals_and_datasets(session, ids, currency)
    months = _months(session, ids, currency, filters)
    chosen = (_line_ids(ids, currency, filters).order_by(LedgerEntry.id.desc())
              .limit(per_page).offset((page - 1) * per_page))
    rows = session.execute(_details(chosen)).all()
    return Statement(totals, [_line(row, currency) for row in rows], sum(m.lines for m in months), page,
                     per_page, _with_empty_months(months), datasets, has_lines=bool(datasets))


def iter_lines(session: Session, user_id: int, *, currency: str, filters: Filters = Filters(),
               batch: int = BATCH) -> Iterator[Line]:
    """Every filtered line, newest first, read `batch` at a time (keyset on the entry id), so an
    export of any length holds one batch in memory."""
    ids = identity_ids(session, user_id)
    if not ids:
        return
    chosen = _line_ids(ids, currency, filters).order_by(LedgerEntry.id.desc()).limit(batch)
    last = None
    while True:
        rows = session.execute(_details(chosen if last is None else chosen.where(LedgerEntry.id < last))).all()
        for row in rows:
            yield _line(row, currency)
        if len(rows) < batch:
            return
        last = rows[-1].entry_id


# ---- the queries ------------------------------------------------------------------------

#: The allocation a posting posted (a reversal names its allocation instead).
_posted = aliased(Allocation, name="posted")


def _with_allocation(query: Select, *, outer: bool = False) -> Select:
    """`query` (over entries joined to their transaction) joined to the allocation each posts or
    reverses; `outer` keeps the entries of other transactions (payouts), with no allocation."""
    query = query.outerjoin(_posted, and_(LedgerTransaction.allocation_id.is_(None),
                                          _posted.transaction_id == LedgerTransaction.id))
    on = Allocation.id == func.coalesce(LedgerTransaction.allocation_id, _posted.id)
    return query.outerjoin(Allocation, on) if outer else query.join(Allocation, on)


def _line_ids(ids: list[int], currency: str, filters: Filters) -> Select:
    """The entry ids of the account's lines that `filters` keep, joining only what they read.

    Entries of amount 0 are left out: a contributor eligible for a payment whose share rounded
    down to nothing has a line in the allocation (its weight), but no money to show. Every
    allocation or reversal transaction belongs to an allocation (allocation.services writes them
    together), so the allocation is joined only to filter by dataset.
    """
    query = (
        select(LedgerEntry.id)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.account == PAYABLE, LedgerEntry.owner_id.in_(ids), LedgerEntry.currency == currency,
               LedgerEntry.amount != 0, LedgerTransaction.kind.in_(EARNING_KINDS))
    )
    if filters.start is not None:
        query = query.where(LedgerTransaction.created_at >= datetime.combine(filters.start, time()))
    if filters.end is not None and filters.end < date.max:  # date.max: no day after it to stop at
        query = query.where(LedgerTransaction.created_at < datetime.combine(filters.end + timedelta(days=1), time()))
    if filters.dataset is not None:
        dataset_id = select(Dataset.id).where(Dataset.slug == filters.dataset).scalar_subquery()
        query = _with_allocation(query).where(Allocation.dataset_id == dataset_id)
    return query


def _details(chosen: Select) -> Select:
    """Everything a line shows, for the entries `chosen` selects (a page: the joins run for it only)."""
    return (
        _with_allocation(select(
            LedgerEntry.id.label("entry_id"), LedgerEntry.transaction_id, LedgerEntry.amount,
            LedgerTransaction.kind, LedgerTransaction.created_at, Allocation.license_id, Allocation.scopes,
            Dataset.slug, Dataset.title, Organization.name.label("buyer"),
        ).join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id))
        .join(Dataset, Dataset.id == Allocation.dataset_id)
        .outerjoin(License, License.id == Allocation.license_id)
        .outerjoin(Organization, Organization.id == License.buyer_id)
        .where(LedgerEntry.id.in_(chosen))
        .order_by(LedgerEntry.id.desc())
    )


def _line(row, currency: str) -> Line:
    return Line(entry_id=row.entry_id, transaction_id=row.transaction_id, kind=row.kind, created_at=row.created_at,
                amount=Money(int(row.amount), currency), license_id=row.license_id, dataset=row.slug,
                dataset_title=row.title, buyer=row.buyer, scopes=list(row.scopes or []))


def _totals_and_datasets(session: Session, ids: list[int], currency: str) -> tuple[Totals, list[tuple[str, str]]]:
    """The totals, and the datasets the account has lines in (for the filter), in one pass over
    all the identities' payable entries, grouped by dataset (none for payouts)."""
    earning = LedgerTransaction.kind.in_(EARNING_KINDS)
    rows = session.execute(
        _with_allocation(
            select(Dataset.slug, Dataset.title, func.sum(LedgerEntry.amount),
                   func.sum(case((earning, LedgerEntry.amount), else_=0)),
                   func.count(case((and_(earning, LedgerEntry.amount != 0), 1))))
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id), outer=True)
        .outerjoin(Dataset, Dataset.id == Allocation.dataset_id)
        .where(LedgerEntry.account == PAYABLE, LedgerEntry.owner_id.in_(ids), LedgerEntry.currency == currency)
        .group_by(Dataset.id, Dataset.slug, Dataset.title)
    ).all()
    # PostgreSQL sums BIGINT as NUMERIC (a Decimal here): back to exact ints.
    balance = sum(int(row[2]) for row in rows)
    lifetime = sum(int(row[3]) for row in rows)
    datasets = sorted(((slug, title) for slug, title, _b, _l, lines in rows if slug is not None and lines),
                      key=lambda dataset: (dataset[1], dataset[0]))
    totals = Totals(Money(balance, currency), Money(lifetime, currency), Money(lifetime - balance, currency))
    return totals, datasets


def _month_of(session: Session, column):
    # The format is inlined (not a bound parameter) so PostgreSQL sees the SELECT and GROUP BY
    # expressions as the same one.
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(column, literal_column("'YYYY-MM'"))
    return func.strftime(literal_column("'%Y-%m'"), column)


def _months(session: Session, ids: list[int], currency: str, filters: Filters) -> list[Month]:
    month = _month_of(session, LedgerTransaction.created_at)
    allocation = LedgerTransaction.kind == "allocation"
    rows = session.execute(
        _line_ids(ids, currency, filters).with_only_columns(
            month.label("month"),
            func.coalesce(func.sum(case((allocation, LedgerEntry.amount), else_=0)), 0),
            func.coalesce(func.sum(case((allocation, 0), else_=LedgerEntry.amount)), 0),
            func.count(),
        ).group_by(month).order_by(month)
    ).all()
    return [Month(m, int(earned), int(reversed_), int(count)) for m, earned, reversed_, count in rows]


def _with_empty_months(months: list[Month]) -> list[Month]:
    """The months from the first to the last, a month without lines as zeros (a chart's time axis)."""
    if not months:
        return []
    known = {m.month: m for m in months}
    year, month = (int(part) for part in months[0].month.split("-"))
    filled = []
    while True:
        key = f"{year:04d}-{month:02d}"
        filled.append(known.get(key, Month(key, 0, 0, 0)))
        if key == months[-1].month:
            return filled
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
