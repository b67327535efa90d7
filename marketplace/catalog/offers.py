"""Offers and prices."""
from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session

from marketplace.catalog.models import Dataset, DatasetVersion, Offer, OfferScope
from marketplace.db import utcnow
from marketplace.errors import Conflict, NotFound, invalid_field
from marketplace.money import Money, ceil_div

#: Basis points in the whole (a share of 10,000 bps is all of it).
BPS = 10_000
#: The card processor's minimum charge (SPEC.md): no price goes below it.
MIN_PRICE = 50
#: The most the card processor takes in one payment, in minor units: Stripe's amounts have at most
#: eight digits ($999,999.99 in usd). DIVIDEND_MAX_CHARGE may set a lower ceiling, never a higher one.
PROCESSOR_MAX_CHARGE = 99_999_999


def max_charge() -> int:
    """The highest price one payment may have here (the configured MAX_CHARGE)."""
    return min(current_app.config["MAX_CHARGE"], PROCESSOR_MAX_CHARGE)


def most_per_payment(currency: str) -> str:
    """For messages: "the 999,999.99 USD the card processor takes at most in one payment"."""
    return f"the {Money(max_charge(), currency)} the card processor takes at most in one payment"


def check_chargeable(price: Money) -> None:
    """At checkout: a per-record or per-token price that a larger version pushed past the ceiling.

    :raise Conflict: the price is above `max_charge()` (the platform has to lower it).
    """
    if price.amount > max_charge():
        raise Conflict(f"This offer can't be paid by card now: on the latest version a license costs {price}, "
                       f"above {most_per_payment(price.currency)}. The platform has to offer it at a "
                       f"lower price.")


def price_amount(model: str, amount: int, records: int, tokens: int) -> int:
    """SPEC.md's price rules, in integers: flat, or rounded up per 1k records / 1M tokens."""
    if model == "flat":
        price = amount
    elif model == "per_1k_records":
        price = ceil_div(amount * records, 1000)
    elif model == "per_1m_tokens":
        price = ceil_div(amount * tokens, 1_000_000)
    else:
        raise ValueError(f"unknown price model {model!r}")
    return max(price, MIN_PRICE)


def quote(offer: Offer, version: DatasetVersion | None) -> Money | None:
    """What a license under `offer` costs on `version`'s counts; None without a version."""
    if version is None:
        return None
    amount = price_amount(offer.price_model, offer.price_amount, version.record_count, version.token_count)
    return Money(amount, offer.currency)


def create_offer(session: Session, dataset: Dataset, fields: dict, *,
                 min_share_bps: int | None = None) -> Offer:
    """Create an offer from schema-validated `fields`.

    The contributors' share is never below the marketplace's floor (`min_share_bps`, by default
    the configured MIN_CONTRIBUTOR_SHARE_BPS), whoever calls: the schema says so to the API and
    the form, and this is the rule itself.
    :raise Invalid: the share is below the floor (names `contributor_share_bps`).
    """
    floor = current_app.config["MIN_CONTRIBUTOR_SHARE_BPS"] if min_share_bps is None else min_share_bps
    if not floor <= fields["contributor_share_bps"] <= BPS:
        raise invalid_field("contributor_share_bps", f"Must be between {floor} and {BPS} basis points.")
    price = fields["price"]
    _check_price_chargeable(dataset, price)
    offer = Offer(
        dataset=dataset,
        name=fields["name"].strip(),
        term_months=fields["term_months"],
        territory=sorted(fields.get("territory") or ["*"]),
        exclusive=bool(fields.get("exclusive", False)),
        price_model=price["model"],
        price_amount=price["amount"],
        currency=price["currency"],
        billing=fields.get("billing", "one_time"),
        contributor_share_bps=fields["contributor_share_bps"],
        scope_rows=[OfferScope(scope=scope) for scope in sorted(fields["scopes"])],
    )
    session.add(offer)
    session.flush()
    return offer


def _check_price_chargeable(dataset: Dataset, price: dict) -> None:
    """An offer whose license could not be paid in one payment is refused when it is made.

    :raise Invalid: the amount, or the quote on the latest version, is above `max_charge()`
        (names `price.amount`).
    """
    currency = price["currency"]
    if price["amount"] > max_charge():
        raise invalid_field("price.amount", f"{Money(price['amount'], currency)} is above "
                                            f"{most_per_payment(currency)}. Lower the price.")
    version = dataset.latest_version
    if version is None:
        return
    amount = price_amount(price["model"], price["amount"], version.record_count, version.token_count)
    if amount > max_charge():
        raise invalid_field("price.amount", (
            f"On version {version.number} ({version.record_count:,} records, {version.token_count:,} tokens) "
            f"a license would cost {Money(amount, currency)}, above {most_per_payment(currency)}. "
            f"Lower the price."))


def owned_offer(session: Session, platform_id: int, offer_id: int) -> Offer:
    """:raise NotFound: unknown, or another platform's offer."""
    offer = session.get(Offer, offer_id)
    if offer is None or offer.dataset.platform_id != platform_id:
        raise NotFound(f"No offer {offer_id} among yours.")
    return offer


def retire_offer(session: Session, offer: Offer) -> Offer:
    """Stop new licenses under it; licenses already sold keep their terms. Repeating is harmless."""
    if offer.retired_at is None:
        offer.retired_at = utcnow()
        session.flush()
    return offer
