"""A small dataset of known people for consent tests, sold through the API."""
from __future__ import annotations

from sqlalchemy import func, select

from marketplace.catalog.models import Contributor
from marketplace.extensions import db
from marketplace.ledger.models import LedgerEntry
from tests import factories

#: (external id, region, records): FR and DE are opt-in regions (SPEC.md's default list).
PEOPLE = [("ana", "US", 3), ("bo", "FR", 2), ("cy", "US", 1), ("dee", "DE", 4)]


def listed(client, platform: dict, *, policy: str = "opt_out", scopes_per_offer=(("ai-train",), ("ai-input",))) -> dict:
    """A published dataset of PEOPLE's records with one offer per scope set; returns
    {slug, offers: {scopes tuple: offer id}}."""
    dataset = factories.create_dataset(client, platform, consent_policy=policy)
    slug = dataset["slug"]
    lines, n = [], 0
    for person, region, count in PEOPLE:
        for _ in range(count):
            lines.append(factories.record(n, contributor=person, region=region))
            n += 1
    factories.import_records(client, platform, slug, lines)
    assert client.post(f"/api/v1/datasets/{slug}/versions", json={}, headers=platform["headers"]).status_code == 201
    offers = {}
    for scopes in scopes_per_offer:
        body = factories.offer_body(name=f"For {', '.join(scopes)}", scopes=list(scopes),
                                    price={"model": "flat", "amount": 100_000, "currency": "usd"})
        response = client.post(f"/api/v1/datasets/{slug}/offers", json=body, headers=platform["headers"])
        assert response.status_code == 201, response.get_json()
        offers[tuple(scopes)] = response.get_json()["id"]
    assert client.post(f"/api/v1/datasets/{slug}/publish", headers=platform["headers"]).status_code == 200
    return {"slug": slug, "offers": offers}


def earned(platform: dict, external_id: str) -> int:
    """The sum of the contributor's payable entries in the ledger (0 when none)."""
    contributor_id = db.session.scalar(select(Contributor.id).where(
        Contributor.platform_id == platform["id"], Contributor.external_id == external_id))
    return db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.account == "contributor_payable", LedgerEntry.owner_id == contributor_id))


def decide(client, person: dict, **body):
    return client.put("/api/v1/me/consents", json=body, headers=person["headers"])
