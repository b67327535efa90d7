"""Building datasets and payments for ledger tests through the services (no HTTP), and reading
balances back with plain SQL."""
from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, text

from marketplace.accounts import services as accounts
from marketplace.allocation.services import PaymentFacts, allocate_payment
from marketplace.allocation.split import largest_remainder, split
from marketplace.catalog import importer, services, versions
from marketplace.catalog.models import Contributor, Dataset
from marketplace.extensions import db

_n = itertools.count(1)
#: The opt-in regions the tests pass to allocate_payment (the real default list is longer).
OPT_IN = frozenset({"FR", "DE", "GB", "KR"})
PAID_AT = datetime(2030, 1, 1)  # noqa: DTZ001 — naive UTC, as the database stores times
FEE_BPS = 500
#: The importer's largest token count per record (a 32-bit column).
MAX_TOKENS = 2_000_000_000


def unique(prefix: str) -> str:
    """A name no other test or Hypothesis example uses (they share one rolled-back transaction)."""
    return f"{prefix}-{next(_n)}"


def platform():
    organization, _user, _key = accounts.sign_up(db.session, "platform", unique("Ledger Co"),
                                                 f"{unique('ledger')}@example.test", "long enough password")
    return organization


def dataset(owner, people: Iterable[tuple[str, str, int]], *, weighting: str = "records",
            policy: str = "opt_out") -> Dataset:
    """A dataset with one frozen version; each person (external id, region, weight) gets records
    adding up to their weight, in the order given.

    By records: `weight` records of 1 token. By tokens: records of up to 2e9 tokens each (weight 0:
    one record of no tokens).
    """
    made = services.create_dataset(db.session, owner.id, {
        "slug": unique("ledger"), "title": "Ledger test data", "summary": "", "description": "",
        "content_kind": "post", "languages": ["en"], "tags": [], "consent_policy": policy,
        "weighting": weighting})
    add_records(made, people)
    versions.freeze_version(db.session, made)
    return made


def add_records(made: Dataset, people: Iterable[tuple[str, str, int]], *, prefix: str = "") -> None:
    weighting = made.weighting

    def lines():
        line = 0
        for person, region, weight in people:
            if weighting == "records":
                pieces = [1] * weight
            else:
                whole, rest = divmod(weight, MAX_TOKENS)
                pieces = [MAX_TOKENS] * whole + ([rest] if rest or not weight else [])
            for i, tokens in enumerate(pieces):
                line += 1
                yield line, {"external_id": f"{prefix}{person}-{i}",
                             "contributor": {"external_id": person, "region": region},
                             "text": "x", "created_at": "2024-01-01T00:00:00Z", "tokens": tokens}

    importer.import_records(db.session, made, lines())


def facts(made: Dataset, gross: int, *, key: str | None = None, scopes=("ai-train",), share_bps: int = 5000,
          at: datetime = PAID_AT, version_ids=None) -> PaymentFacts:
    return PaymentFacts(key=key or unique("payment:pi"), dataset_id=made.id,
                        version_ids=tuple(version_ids or (made.latest_version.id,)), scopes=tuple(scopes),
                        gross=gross, currency="usd", contributor_share_bps=share_bps, paid_at=at)


def pay(made: Dataset, gross: int, *, fee_bps: int = FEE_BPS, **kwargs):
    return allocate_payment(db.session, facts(made, gross, **kwargs), fee_bps=fee_bps, opt_in_regions=OPT_IN)


def contributor(made: Dataset, external_id: str) -> Contributor:
    return db.session.scalar(select(Contributor).where(Contributor.platform_id == made.platform_id,
                                                       Contributor.external_id == external_id))


def by_external_id(amounts: dict[int, int]) -> dict[str, int]:
    names = dict(db.session.execute(select(Contributor.id, Contributor.external_id)
                                    .where(Contributor.id.in_(list(amounts)))).all())
    return {names[cid]: amount for cid, amount in amounts.items()}


def rule(pool: int, people, eligible=lambda person, region: region not in OPT_IN) -> dict[str, int]:
    """The reference split of `pool` among the people the (default opt-out) rule includes."""
    weighted = [(person, weight) for person, region, weight in people if eligible(person, region)]
    return dict(zip([person for person, _w in weighted], largest_remainder(pool, weighted), strict=True))


def shares_at(allocation, refunded: int) -> tuple[int, int, int]:
    """(fee, platform, pool) by the rule for the allocation's gross less `refunded`."""
    return split(allocation.gross - refunded, allocation.fee_bps, allocation.contributor_share_bps)


def allocation_total(allocation, account: str) -> int:
    """The sum of `account`'s entries in the allocation's posting and its reversals."""
    return int(db.session.execute(text(
        "SELECT COALESCE(SUM(e.amount), 0) FROM ledger_entries e JOIN ledger_transactions t "
        "ON t.id = e.transaction_id WHERE (t.id = :original OR t.allocation_id = :allocation) "
        "AND e.account = :account"),
        {"original": allocation.transaction_id, "allocation": allocation.id, "account": account}).scalar())


def balances() -> dict[tuple[str, int], int]:
    """Every account's balance, (kind, owner id) → sum of its entries, in plain SQL."""
    return {(account, int(owner)): int(total) for account, owner, total in db.session.execute(text(
        "SELECT account, owner_id, SUM(amount) FROM ledger_entries GROUP BY account, owner_id"))}


def entry_count() -> int:
    return int(db.session.execute(text("SELECT COUNT(*) FROM ledger_entries")).scalar())


def transaction_count() -> int:
    return int(db.session.execute(text("SELECT COUNT(*) FROM ledger_transactions")).scalar())


def unbalanced_transactions() -> list[tuple]:
    """(transaction, currency, sum) for every transaction that does not sum to zero, in plain SQL."""
    return [tuple(row) for row in db.session.execute(text(
        "SELECT transaction_id, currency, SUM(amount) FROM ledger_entries "
        "GROUP BY transaction_id, currency HAVING SUM(amount) <> 0"))]


def ledger_sums() -> dict[str, int]:
    """The whole ledger's sum per currency."""
    return {currency: int(total) for currency, total in db.session.execute(text(
        "SELECT currency, SUM(amount) FROM ledger_entries GROUP BY currency"))}
