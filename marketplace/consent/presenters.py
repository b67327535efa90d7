"""Consent rows as the API and pages show them: platforms and datasets by slug."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts.models import Organization
from marketplace.catalog.models import Dataset


def names(session: Session, platform_ids: set[int], dataset_ids: set[int]) -> tuple[dict, dict]:
    """({platform id: Organization}, {dataset id: Dataset}) for the ids given."""
    platforms = {o.id: o for o in session.scalars(select(Organization).where(Organization.id.in_(platform_ids)))}
    datasets = {d.id: d for d in session.scalars(select(Dataset).where(Dataset.id.in_(dataset_ids)))}
    return platforms, datasets


def consent_items(session: Session, rows) -> list[dict]:
    """API.md's consent items for rows with platform_id, dataset_id, scope, status, at, source."""
    rows = list(rows)
    platforms, datasets = names(session, {r.platform_id for r in rows},
                                {r.dataset_id for r in rows if r.dataset_id is not None})
    return [{"platform": platforms[r.platform_id].slug,
             "dataset": datasets[r.dataset_id].slug if r.dataset_id is not None else None,
             "scope": r.scope, "status": r.status, "at": r.at, "source": r.source} for r in rows]
