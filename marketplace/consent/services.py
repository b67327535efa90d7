"""Consent decisions: recording them (append-only) and reading where each contributor stands."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from marketplace.accounts.models import Organization
from marketplace.catalog.models import (
    SCOPES,
    Contributor,
    Dataset,
    DatasetVersion,
    Record,
    VersionContributor,
)
from marketplace.consent.eligibility import EligibilityQuestion, is_eligible
from marketplace.consent.models import ALL_SCOPES, Consent, ConsentStatus
from marketplace.db import utcnow
from marketplace.errors import NotFound, invalid_field
from marketplace.text import has_nul


def record_consent(
    session: Session, contributor: Contributor, *, status: str, scope: str = ALL_SCOPES,
    dataset: Dataset | None = None, source: str, at: datetime | None = None,
    recorded_by: int | None = None,
) -> Consent:
    """Append one decision. Dataset-specific when `dataset` is given, else platform-wide.

    :raise Invalid: unknown status or scope, or a dataset of another platform.
    """
    if status not in set(ConsentStatus):
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


# ---- reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CurrentConsent:
    """The latest decision for one (contributor, dataset or platform-wide, scope)."""

    contributor_id: int
    platform_id: int
    dataset_id: int | None
    scope: str
    status: str
    at: datetime
    source: str


def current_consents(session: Session, contributor_ids: list[int]) -> list[CurrentConsent]:
    """The standing decisions of these contributors: for each target and scope, the latest.

    (Which one *applies* to a license is the eligibility rule's business: most specific first.)
    """
    if not contributor_ids:
        return []
    ranked = select(
        Consent.contributor_id, Consent.platform_id, Consent.dataset_id, Consent.scope,
        Consent.status, Consent.at, Consent.source,
        func.row_number().over(
            partition_by=(Consent.contributor_id, Consent.dataset_id, Consent.scope),
            order_by=(Consent.at.desc(), Consent.id.desc()),
        ).label("rank"),
    ).where(Consent.contributor_id.in_(contributor_ids)).subquery()
    rows = session.execute(
        select(ranked).where(ranked.c.rank == 1)
        .order_by(ranked.c.platform_id, ranked.c.dataset_id.is_not(None), ranked.c.dataset_id, ranked.c.scope)
    ).all()
    return [CurrentConsent(r.contributor_id, r.platform_id, r.dataset_id, r.scope, r.status, r.at, r.source)
            for r in rows]


def history(session: Session, contributor_ids: list[int], limit: int = 50) -> list[Consent]:
    """The latest decisions first, every one of them (the history is append-only)."""
    if not contributor_ids:
        return []
    return list(session.scalars(
        select(Consent).where(Consent.contributor_id.in_(contributor_ids))
        .order_by(Consent.at.desc(), Consent.id.desc()).limit(limit)))


def included_by_scope(session: Session, contributor: Contributor, dataset: Dataset,
                      opt_in_regions: frozenset[str], at: datetime | None = None) -> dict[str, bool]:
    """Whether `contributor` would be paid (and delivered) for each scope of `dataset` now, by
    the one eligibility rule, over the dataset's latest version. Empty without a version or
    when the contributor has no records in it."""
    version_id = session.scalar(
        select(DatasetVersion.id).where(DatasetVersion.dataset_id == dataset.id)
        .order_by(DatasetVersion.id.desc()).limit(1))
    if version_id is None:
        return {}
    in_version = session.scalar(select(VersionContributor.contributor_id).where(
        VersionContributor.version_id == version_id, VersionContributor.contributor_id == contributor.id))
    if in_version is None:
        return {}
    answers = {}
    for scope in SCOPES:
        question = EligibilityQuestion(
            dataset_id=dataset.id, platform_id=dataset.platform_id, consent_policy=dataset.consent_policy,
            weighting=dataset.weighting, version_ids=(version_id,), scopes=(scope,),
            at=at or utcnow(), opt_in_regions=opt_in_regions)
        answers[scope] = is_eligible(session, question, contributor.id)
    return answers


@dataclass(frozen=True)
class DatasetStanding:
    """Where one identity stands in one dataset of its platform that holds a record of theirs."""

    dataset: Dataset
    #: scope → included now (by the eligibility rule), over the latest version; empty without one.
    included: dict[str, bool]


def datasets_with_records(session: Session, contributor: Contributor) -> list[Dataset]:
    """The platform's datasets holding a record of this person (any, taken down or not), by title."""
    # EXISTS per dataset: records are indexed by (dataset, contributor).
    has_record = exists().where(Record.dataset_id == Dataset.id, Record.contributor_id == contributor.id)
    return list(session.scalars(select(Dataset).where(Dataset.platform_id == contributor.platform_id, has_record)
                                .order_by(Dataset.title)))


def standings(session: Session, people: list[Contributor], opt_in_regions: frozenset[str],
              at: datetime | None = None) -> dict[int, list[DatasetStanding]]:
    """{identity id: its standing in each dataset holding a record of it}; raises nothing."""
    return {person.id: [DatasetStanding(dataset, included_by_scope(session, person, dataset, opt_in_regions, at))
                        for dataset in datasets_with_records(session, person)]
            for person in people}


# ---- a contributor account's own decisions ----------------------------------------------


@dataclass(frozen=True)
class Target:
    """What an account's decision is about: one of its identities, and a dataset or none."""

    contributor: Contributor
    dataset: Dataset | None


def resolve_target(session: Session, user_id: int, *, platform: str | None, dataset: str | None) -> Target:
    """The identity (and dataset) a contributor account means by a platform slug and/or dataset slug.

    :raise Invalid: neither given. :raise NotFound: a platform or dataset the account has no
        identity on (another platform's dataset is a 404, never a 403).
    """
    if not dataset and not platform:
        raise invalid_field("platform", "Name the platform (for a platform-wide decision) or a dataset.")
    found = None
    if dataset:
        found = session.scalar(select(Dataset).where(Dataset.slug == dataset)) if not has_nul(dataset) else None
        if found is None:
            raise NotFound(f"No dataset {dataset!r} on the platforms you are on.")
        platform_id = found.platform_id
        if platform and session.scalar(select(Organization.slug).where(Organization.id == platform_id)) != platform:
            raise invalid_field("platform", f"Dataset {dataset!r} is not on platform {platform!r}.")
    else:
        platform_id = session.scalar(select(Organization.id).where(
            Organization.slug == platform, Organization.kind == "platform")) if not has_nul(platform) else None
    contributor = None if platform_id is None else session.scalar(select(Contributor).where(
        Contributor.user_id == user_id, Contributor.platform_id == platform_id))
    if contributor is None:
        what = f"dataset {dataset!r}" if dataset else f"platform {platform!r}"
        raise NotFound(f"You have no identity on the {what}; link it with a claim code first.")
    return Target(contributor, found)


def decide(session: Session, user_id: int, *, platform: str | None, dataset: str | None, scope: str,
           status: str) -> Consent:
    """Record the account's own decision (source "contributor"); it takes effect at once.

    :raise Invalid: bad scope or status, or no target. :raise NotFound: see `resolve_target`.
    """
    target = resolve_target(session, user_id, platform=platform, dataset=dataset)
    return record_consent(session, target.contributor, status=status, scope=scope, dataset=target.dataset,
                          source="contributor", recorded_by=user_id)
