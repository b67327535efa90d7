"""Contributors as the catalog knows them: the identities (one Contributor row per platform) a
person's account has claimed. Consent, statements and claims all ask this; it lives with the model."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.catalog.models import Contributor


def identity_ids(session: Session, user_id: int) -> list[int]:
    """The ids of the Contributor rows `user_id` has claimed (possibly none)."""
    return list(session.scalars(
        select(Contributor.id).where(Contributor.user_id == user_id).order_by(Contributor.id)))


def identities(session: Session, user_id: int) -> list[Contributor]:
    return list(session.scalars(
        select(Contributor).where(Contributor.user_id == user_id).order_by(Contributor.id)))
