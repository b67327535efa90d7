"""A license's terms: the offer as accepted, frozen, with a SHA-256 of its canonical form."""
from __future__ import annotations

import hashlib

import orjson

from marketplace.catalog.models import DatasetVersion, Offer
from marketplace.money import Money


def terms_for(offer: Offer, version: DatasetVersion, price: Money) -> dict:
    """Everything the buyer agrees to, in plain values (no ids that could change meaning)."""
    dataset = offer.dataset
    return {
        "dataset": {"slug": dataset.slug, "title": dataset.title, "platform": dataset.platform.name},
        "offer": {"id": offer.id, "name": offer.name},
        "scopes": offer.scopes,
        "term_months": offer.term_months,
        "territory": offer.territory,
        "exclusive": offer.exclusive,
        "billing": offer.billing,
        "price_model": {"model": offer.price_model, "amount": offer.price_amount,
                        "currency": offer.currency},
        "price": price.as_dict(),
        "contributor_share_bps": offer.contributor_share_bps,
        "consent_policy": dataset.consent_policy,
        "weighting": dataset.weighting,
        "version": {"number": version.number, "sha256": version.sha256,
                    "record_count": version.record_count, "token_count": version.token_count},
    }


def canonical(terms: dict) -> bytes:
    return orjson.dumps(terms, option=orjson.OPT_SORT_KEYS)


def terms_sha256(terms: dict) -> str:
    return hashlib.sha256(canonical(terms)).hexdigest()
