"""Allocating a payment as set-based SQL.

`allocate_payment` decides eligibility as of the payment (consent.eligibility),
splits the gross (split.split) and writes one ledger entry per eligible
contributor straight from an INSERT … SELECT over the version's frozen
weights: no Python object per contributor, each credit written once. The
entry is the allocation's line (weight, tie-break key, amount), so the
allocation can be recomputed from its own rows after records are erased.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from marketplace.allocation.models import Allocation, AllocationPaidCount
from marketplace.allocation.split import BPS, MAX_AMOUNT, MAX_TOTAL_WEIGHT, split
from marketplace.allocation.sql import find_cutoff, share_chain, sort_memory
from marketplace.catalog.models import Dataset, DatasetVersion
from marketplace.consent.eligibility import EligibilityQuestion, bind, eligible_sql
from marketplace.errors import Invalid
from marketplace.ledger import posting
from marketplace.ledger.models import MARKETPLACE, LedgerEntry


@dataclass(frozen=True)
class PaymentFacts:
    """A payment to allocate, as the caller (licensing) knows it."""

    key: str                        # idempotency key, e.g. "payment:pi_…"
    dataset_id: int
    version_ids: tuple[int, ...]
    scopes: tuple[str, ...]
    gross: int
    currency: str
    contributor_share_bps: int
    paid_at: datetime
    license_id: int | None = None

    def payload(self) -> dict:
        return {
            "dataset_id": self.dataset_id, "version_ids": sorted(self.version_ids),
            "scopes": sorted(set(self.scopes)), "gross": self.gross, "currency": self.currency,
            "contributor_share_bps": self.contributor_share_bps,
            "paid_at": self.paid_at.isoformat(), "license_id": self.license_id,
        }


def allocate_payment(
    session: Session, facts: PaymentFacts, *, fee_bps: int, opt_in_regions: frozenset[str]
) -> Allocation:
    """Split and post one payment; replaying the same facts returns the stored allocation.

    :raise Conflict: the key was used for different facts.
    :raise Invalid: bad amount or rates, no scopes, an unknown dataset or version, or weights
        beyond the exact range.
    """
    _check_facts(facts, fee_bps)
    existing = session.scalar(select(Allocation).where(Allocation.payment_key == facts.key))
    if existing is not None:
        posting.open_transaction(session, key=facts.key, payload=facts.payload(), kind="allocation")
        return existing
    dataset = session.scalar(select(Dataset).where(Dataset.id == facts.dataset_id).with_for_update(of=Dataset))
    if dataset is None:
        raise Invalid("No such dataset.", {"dataset_id": ["Unknown dataset."]})
    versions = session.scalars(
        select(DatasetVersion).where(
            DatasetVersion.id.in_(facts.version_ids), DatasetVersion.dataset_id == dataset.id
        )
    ).all()
    if not versions or len(versions) != len(set(facts.version_ids)):
        raise Invalid("Allocate over the dataset's own frozen versions.", {"version_ids": ["Unknown version."]})
    weight_bound = sum(v.record_count if dataset.weighting == "records" else v.token_count for v in versions)
    if weight_bound > MAX_TOTAL_WEIGHT:
        raise Invalid("The versions' total weight is beyond exact allocation.", {"version_ids": ["Too large."]})

    posting.lock_for_writing(session, [f"allocation:{facts.key}"])
    opened = posting.open_transaction(session, key=facts.key, payload=facts.payload(), kind="allocation",
                                      memo={"license_id": facts.license_id})
    if opened.replayed:  # a concurrent twin committed between our look-up and our insert
        return session.scalar(select(Allocation).where(Allocation.payment_key == facts.key))
    transaction = opened.transaction
    shares = split(facts.gross, fee_bps, facts.contributor_share_bps)
    question = EligibilityQuestion(
        dataset_id=dataset.id, platform_id=dataset.platform_id,
        consent_policy=dataset.consent_policy, weighting=dataset.weighting,
        version_ids=tuple(sorted(facts.version_ids)), scopes=tuple(sorted(set(facts.scopes))),
        at=facts.paid_at, opt_in_regions=opt_in_regions,
    )
    eligible_count, total_weight, allocated, paid = _insert_lines(session, question, transaction.id,
                                                                 facts.currency, shares.pool)
    unallocated = shares.pool - allocated
    posting.add_entries(session, transaction.id, facts.currency, [
        ("payment_clearing", MARKETPLACE, -facts.gross),
        ("marketplace_fees", MARKETPLACE, shares.fee),
        ("platform_payable", dataset.platform_id, shares.to_platform),
        ("dataset_unallocated", dataset.id, unallocated),
    ])
    posting.seal(session, transaction.id)
    allocation = Allocation(
        payment_key=facts.key, transaction_id=transaction.id, dataset_id=dataset.id,
        platform_id=dataset.platform_id, license_id=facts.license_id,
        version_ids=sorted(facts.version_ids), scopes=sorted(set(facts.scopes)), currency=facts.currency,
        gross=facts.gross, fee_bps=fee_bps, contributor_share_bps=facts.contributor_share_bps,
        fee=shares.fee, to_platform=shares.to_platform, pool=shares.pool, unallocated=unallocated,
        weighting=dataset.weighting, total_weight=total_weight, eligible_count=eligible_count,
        paid_at=facts.paid_at,
    )
    session.add(allocation)
    session.flush()
    session.add(AllocationPaidCount(transaction_id=transaction.id, allocation_id=allocation.id,
                                    contributors_paid=paid))
    session.flush()
    return allocation


def _check_facts(facts: PaymentFacts, fee_bps: int) -> None:
    """Refuse what the rule can't split (before anything is locked or written)."""
    if not 0 < facts.gross <= MAX_AMOUNT:
        raise Invalid(f"A payment's gross must be between 1 and {MAX_AMOUNT}.",
                      {"gross": [f"Must be between 1 and {MAX_AMOUNT}."]})
    for name, rate in (("fee_bps", fee_bps), ("contributor_share_bps", facts.contributor_share_bps)):
        if not 0 <= rate <= BPS:
            raise Invalid(f"{name} must be between 0 and {BPS}.", {name: [f"Must be between 0 and {BPS}."]})
    if not facts.scopes:
        raise Invalid("A payment pays for at least one usage scope.", {"scopes": ["Give at least one."]})


#: SQLite: the temporary table holding one allocation's eligible lines while it is written.
ELIGIBLE_LINES = "allocation_eligible_lines"


def _insert_lines(session: Session, question: EligibilityQuestion, transaction_id: int,
                  currency: str, pool: int) -> tuple[int, int, int, int]:
    """One entry per eligible contributor; returns (count, total weight, sum of amounts, how many
    amounts are not zero)."""
    prefix, params = eligible_sql(question)
    params.update(transaction_id=transaction_id, currency=currency)
    insert = (
        "INSERT INTO ledger_entries (transaction_id, account, owner_id, currency, amount, weight, tiebreak) "
        "SELECT :transaction_id, 'contributor_payable', contributor_id, :currency, {amount}, weight, tiebreak "
        "FROM lines"
    )
    if session.get_bind().dialect.name == "sqlite":
        # Eligibility is decided once, into a temporary table that the cut-off, its tie-break
        # look-up and the INSERT then read: evaluated in each of them, it took most of the time.
        # (Inside the transaction: a rollback takes the table with it.)
        session.execute(text(f"DROP TABLE IF EXISTS temp.{ELIGIBLE_LINES}"))
        session.execute(bind(f"CREATE TEMP TABLE {ELIGIBLE_LINES} AS {prefix.lstrip()}\n"
                             "SELECT contributor_id, weight, tiebreak FROM eligible"), params)
        lines = f"WITH lines AS (SELECT contributor_id, weight, tiebreak FROM temp.{ELIGIBLE_LINES})"
        line_params = {"transaction_id": transaction_id, "currency": currency}
        cut = find_cutoff(session, text, lines, line_params, "lines", pool)
        if cut is not None:
            session.execute(text(lines + "\n" + insert.format(amount=cut.amount_sql())),
                            {**line_params, **cut.params()})
        session.execute(text(f"DROP TABLE temp.{ELIGIBLE_LINES}"))
        if cut is None:
            return 0, 0, 0, 0
        # The cut-off's own totals: by construction the lines share out the whole pool. (The seal
        # still sums every entry: lines that did not would leave the transaction unbalanced.)
        return cut.n_total, cut.w_total, pool, _paid_lines(session, transaction_id)
    sql = (
        prefix + ",\ntotals AS (SELECT contributor_id, weight, tiebreak, "
        "CAST(SUM(weight) OVER () AS BIGINT) AS w_total FROM eligible),\n"
        + share_chain(session, "lines").lstrip() + "\n" + insert.format(amount="amount")
    )
    with sort_memory(session):
        session.execute(bind(sql), {**params, "pool_lines": pool})
    count, weight, amount, paid = session.execute(
        select(func.count(), func.coalesce(func.sum(LedgerEntry.weight), 0),
               func.coalesce(func.sum(LedgerEntry.amount), 0),
               func.count().filter(LedgerEntry.amount != 0))
        .where(LedgerEntry.transaction_id == transaction_id, LedgerEntry.weight.is_not(None))
    ).one()
    return int(count), int(weight), int(amount), int(paid)


def _paid_lines(session: Session, transaction_id: int) -> int:
    """How many of the allocation's lines have an amount (a pool smaller than the number of
    contributors leaves some at zero)."""
    return int(session.execute(
        text("SELECT COUNT(*) FROM ledger_entries WHERE transaction_id = :transaction_id "
             "AND account = 'contributor_payable' AND amount <> 0"),
        {"transaction_id": transaction_id}).scalar_one())
