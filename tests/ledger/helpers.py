"""Building datasets and payments for ledger tests through the services (no HTTP)."""
from __future__ import annotations

import itertools
from datetime import datetime

from marketplace.accounts import services as accounts
from marketplace.catalog import importer, services, versions
from marketplace.catalog.models import Contributor, Dataset
from marketplace.extensions import db
from marketplace.ledger.allocation import PaymentFacts, allocate_payment

_n = itertools.count(1)
OPT_IN = frozenset({"FR", "DE", "GB", "KR"})
PAID_AT = datetime(2030, 1, 1)
MAX_TOKENS = 2_000_000_000


def platform():
    organization, _user, _key = accounts.sign_up(db.session, "platform", f"Ledger Co {next(_n)}",
                                                 f"ledger{next(_n)}@example.test", "long enough password")
    return organization


def dataset(owner, people: list[tuple[str, str, int]], *, weighting: str = "records",
            policy: str = "opt_out") -> Dataset:
    """A frozen dataset; each person (external id, region, weight) gets records adding up to weight.

    By records: `weight` records of 1 token. By tokens: records of up to 2e9 tokens each.
    """
    n = next(_n)
    made = services.create_dataset(db.session, owner.id, {
        "slug": f"ledger-{n}", "title": "Ledger test data", "summary": "", "description": "",
        "content_kind": "post", "languages": ["en"], "tags": [], "consent_policy": policy,
        "weighting": weighting})

    def lines():
        line = 0
        for person, region, weight in people:
            if weighting == "records":
                pieces = [1] * weight
            else:
                pieces = [MAX_TOKENS] * (weight // MAX_TOKENS) + ([weight % MAX_TOKENS] if weight % MAX_TOKENS else [])
            for i, tokens in enumerate(pieces):
                line += 1
                yield line, {"external_id": f"{person}-{i}", "contributor": {"external_id": person, "region": region},
                             "text": "x", "created_at": "2024-01-01T00:00:00Z", "tokens": tokens}

    importer.import_records(db.session, made, lines())
    versions.freeze_version(db.session, made)
    return made


def pay(made: Dataset, gross: int, *, key: str | None = None, scopes=("ai-train",), share_bps: int = 5000,
        fee_bps: int = 500, at: datetime = PAID_AT):
    facts = PaymentFacts(key=key or f"payment:test-{next(_n)}", dataset_id=made.id,
                         version_ids=(made.latest_version.id,), scopes=tuple(scopes), gross=gross,
                         currency="usd", contributor_share_bps=share_bps, paid_at=at)
    return allocate_payment(db.session, facts, fee_bps=fee_bps, opt_in_regions=OPT_IN)


def contributor(made: Dataset, external_id: str) -> Contributor:
    from sqlalchemy import select

    return db.session.scalar(select(Contributor).where(Contributor.platform_id == made.platform_id,
                                                       Contributor.external_id == external_id))


def by_external_id(made: Dataset, amounts: dict[int, int]) -> dict[str, int]:
    from sqlalchemy import select

    names = dict(db.session.execute(select(Contributor.id, Contributor.external_id)
                                    .where(Contributor.id.in_(list(amounts)))).all())
    return {names[cid]: amount for cid, amount in amounts.items()}
