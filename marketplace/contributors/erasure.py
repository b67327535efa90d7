"""Erasure: a contributor has their records deleted from the store.

The text goes; a tombstone row stays with the record's external id and the time of the
removal (also a take-down, so every later version and export leaves it out), so buyers can
be told what to delete. The ledger and the allocation lines keep their amounts under the
contributor's pseudonymous id; frozen versions keep their counts and sha256 as frozen.
"""
from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from marketplace.catalog.models import Contributor, Dataset, Record
from marketplace.catalog.services import next_revision
from marketplace.consent.services import resolve_target
from marketplace.contributors.models import ErasureRequest
from marketplace.db import utcnow


def erase(session: Session, contributor: Contributor, requested_by: int) -> ErasureRequest:
    """Erase every record of `contributor` not erased yet, in each dataset (one UPDATE each).

    Asking again erases what was imported since, and otherwise changes nothing but the log.
    """
    now = utcnow()
    # Dataset by dataset of the platform: records are indexed by (dataset, contributor).
    dataset_ids = session.scalars(
        select(Dataset.id).where(Dataset.platform_id == contributor.platform_id).order_by(Dataset.id)).all()
    erased = 0
    for dataset_id in dataset_ids:
        mine = (Record.dataset_id == dataset_id) & (Record.contributor_id == contributor.id)
        if session.scalar(select(Record.id).where(mine, Record.erased_at.is_(None)).limit(1)) is None:
            continue
        revision = next_revision(session, dataset_id)
        result = session.execute(
            update(Record)
            .where(mine, Record.erased_at.is_(None))
            .values(text="", erased_at=now,
                    taken_down_at=func.coalesce(Record.taken_down_at, now),
                    taken_down_rev=func.coalesce(Record.taken_down_rev, revision))
            .execution_options(synchronize_session=False)
        )
        erased += result.rowcount
    request = ErasureRequest(contributor_id=contributor.id, requested_by=requested_by, requested_at=now,
                             records_erased=erased)
    session.add(request)
    session.flush()
    return request


def erasure_log(session: Session, contributor_ids: list[int]) -> list[ErasureRequest]:
    if not contributor_ids:
        return []
    return list(session.scalars(select(ErasureRequest).where(ErasureRequest.contributor_id.in_(contributor_ids))
                                .order_by(ErasureRequest.requested_at.desc(), ErasureRequest.id.desc())))


def stored_record_count(session: Session, contributor: Contributor) -> int:
    """Records of this identity still in the store (not erased), dataset by dataset (see `erase`)."""
    dataset_ids = select(Dataset.id).where(Dataset.platform_id == contributor.platform_id)
    return session.scalar(select(func.count()).where(
        Record.dataset_id.in_(dataset_ids), Record.contributor_id == contributor.id, Record.erased_at.is_(None)))


def request_erasure(session: Session, user_id: int, *, platform: str | None) -> ErasureRequest:
    """Erase the records of the account's identity on `platform` from the store (see `erase`);
    earnings stay in the ledger.

    :raise Invalid: no platform named. :raise NotFound: the account has no identity on it.
    """
    target = resolve_target(session, user_id, platform=platform, dataset=None)
    return erase(session, target.contributor, user_id)
