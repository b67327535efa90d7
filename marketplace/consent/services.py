"""Recording consent decisions (append-only). Contributors' pages and the API come with claims."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from marketplace.catalog.models import SCOPES, Contributor, Dataset
from marketplace.consent.models import ALL_SCOPES, CONSENT_STATUSES, Consent
from marketplace.db import utcnow
from marketplace.errors import invalid_field


def record_consent(
    session: Session, contributor: Contributor, *, status: str, scope: str = ALL_SCOPES,
    dataset: Dataset | None = None, source: str, at: datetime | None = None,
    recorded_by: int | None = None,
) -> Consent:
    """Append one decision. Dataset-specific when `dataset` is given, else platform-wide.

    :raise Invalid: unknown status or scope, or a dataset of another platform.
    """
    if status not in CONSENT_STATUSES:
        raise invalid_field("status", 'Must be "granted" or "withdrawn".')
    if scope != ALL_SCOPES and scope not in SCOPES:
        raise invalid_field("scope", f"Must be \"*\" or one of {', '.join(SCOPES)}.")
    if dataset is not None and dataset.platform_id != contributor.platform_id:
        raise invalid_field("dataset", "Not a dataset of the contributor's platform.")
    consent = Consent(
        contributor_id=contributor.id, platform_id=contributor.platform_id,
        dataset_id=dataset.id if dataset is not None else None, scope=scope, status=status,
        at=at or utcnow(), source=source, recorded_by=recorded_by,
    )
    session.add(consent)
    session.flush()
    return consent
