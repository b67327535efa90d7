"""Datasets: create, edit, find, publish, take records down.

Services flush and never commit; the request, command or job commits once.
"""
from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from marketplace.catalog import search
from marketplace.catalog.models import Dataset, DatasetLanguage, Record
from marketplace.db import utcnow
from marketplace.errors import Conflict, NotFound
from marketplace.text import has_nul

EDITABLE_FIELDS = (
    "title", "summary", "description", "content_kind", "tags", "consent_policy", "weighting",
    "pii_redaction", "pii_keep", "pii_allow",
)


def create_dataset(session: Session, platform_id: int, fields: dict) -> Dataset:
    """Create a draft dataset from schema-validated `fields`.

    :raise Conflict: the slug is taken.
    """
    slug = fields["slug"]
    if session.scalar(select(Dataset.id).where(Dataset.slug == slug)) is not None:
        raise Conflict(
            f"The slug {slug!r} is taken; choose another.", {"json": {"slug": ["Already taken."]}}
        )
    dataset = Dataset(platform_id=platform_id, slug=slug, status="draft", revision=0)
    _apply(dataset, fields)
    session.add(dataset)
    session.flush()
    search.index_dataset(session, dataset)
    return dataset


def update_dataset(session: Session, dataset: Dataset, fields: dict) -> Dataset:
    """Change any field but the slug (schema-validated `fields`)."""
    _apply(dataset, fields)
    dataset.updated_at = utcnow()
    session.flush()
    search.index_dataset(session, dataset)
    return dataset


def _apply(dataset: Dataset, fields: dict) -> None:
    for name in EDITABLE_FIELDS:
        if name in fields:
            setattr(dataset, name, fields[name])
    if "tags" in fields:
        dataset.tags = sorted({tag.strip().lower() for tag in fields["tags"]})
    if "pii_keep" in fields:
        dataset.pii_keep = sorted(set(fields["pii_keep"]))
    if "pii_allow" in fields:
        dataset.pii_allow = list(dict.fromkeys(fields["pii_allow"]))
    if "languages" in fields:
        codes = sorted(set(fields["languages"]))
        dataset.language_rows = [DatasetLanguage(code=code) for code in codes]
    dataset.search_document = search.document_for(dataset)


def owned_dataset(session: Session, platform_id: int, slug: str, *, lock: bool = False) -> Dataset:
    """The platform's own dataset. :raise NotFound: unknown, or another platform's."""
    if has_nul(slug):  # no slug holds NUL, and PostgreSQL refuses it even in a query
        raise NotFound(f"No dataset {slug!r} among yours.")
    statement = select(Dataset).where(Dataset.slug == slug, Dataset.platform_id == platform_id)
    if lock:
        statement = statement.with_for_update(of=Dataset)
    dataset = session.scalar(statement)
    if dataset is None:
        raise NotFound(f"No dataset {slug!r} among yours.")
    return dataset


def _by_slug(session: Session, slug: str) -> Dataset | None:
    # No slug holds NUL, and PostgreSQL refuses it even in a query.
    return None if has_nul(slug) else session.scalar(select(Dataset).where(Dataset.slug == slug))


def dataset_by_slug(session: Session, slug: str) -> Dataset:
    """Any platform's dataset in any state, by slug (staff commands). :raise NotFound: unknown."""
    dataset = _by_slug(session, slug)
    if dataset is None:
        raise NotFound(f"No dataset {slug!r}.")
    return dataset


def visible_dataset(session: Session, slug: str, viewer_org_id: int | None) -> Dataset:
    """A dataset the viewer may see: published, or their own in any state.

    :raise NotFound: unknown, or another platform's draft or unpublished dataset.
    """
    dataset = _by_slug(session, slug)
    if dataset is None or not (dataset.is_public or dataset.platform_id == viewer_org_id):
        raise NotFound(f"No dataset {slug!r}.")
    return dataset


def platform_datasets(session: Session, platform_id: int) -> list[Dataset]:
    return list(
        session.scalars(
            select(Dataset).where(Dataset.platform_id == platform_id).order_by(Dataset.id.desc())
        )
    )


def live_record_count(session: Session, dataset_id: int) -> int:
    return session.scalar(
        select(func.count()).where(Record.dataset_id == dataset_id, Record.taken_down_at.is_(None))
    )


def publish(session: Session, dataset: Dataset) -> Dataset:
    """List the dataset in the catalog. :raise Conflict: no version or no live offer yet."""
    missing = []
    if dataset.latest_version is None:
        missing.append("a frozen version")
    if not any(offer.is_active for offer in dataset.offers):
        missing.append("an offer that is not retired")
    if missing:
        raise Conflict(f"Publishing needs {' and '.join(missing)}.")
    if dataset.status != "published":
        dataset.status = "published"
        dataset.published_at = dataset.published_at or utcnow()
        session.flush()
    return dataset


def unpublish(session: Session, dataset: Dataset) -> Dataset:
    """Hide it from the catalog; licenses already sold go on."""
    if dataset.status == "published":
        dataset.status = "unpublished"
        session.flush()
    return dataset


def next_revision(session: Session, dataset_id: int) -> int:
    """Bump the dataset's revision and return it; also takes the dataset's write lock."""
    session.execute(
        update(Dataset).where(Dataset.id == dataset_id).values(revision=Dataset.revision + 1)
        .execution_options(synchronize_session=False)
    )
    return session.scalar(select(Dataset.revision).where(Dataset.id == dataset_id))


def take_down(session: Session, dataset: Dataset, external_id: str) -> None:
    """Take a record down: it leaves later versions and exports. Repeating it is harmless.

    :raise NotFound: no record with that external id in the dataset.
    """
    row = None
    if not has_nul(external_id):  # no id holds NUL, and PostgreSQL refuses it even in a query
        row = session.execute(
            select(Record.id, Record.taken_down_at).where(
                Record.dataset_id == dataset.id, Record.external_id == external_id
            )
        ).first()
    if row is None:
        raise NotFound(f"No record {external_id!r} in {dataset.slug!r}.")
    record_id, taken_down_at = row
    if taken_down_at is not None:
        return
    revision = next_revision(session, dataset.id)
    session.execute(
        update(Record).where(Record.id == record_id)
        .values(taken_down_at=utcnow(), taken_down_rev=revision)
        .execution_options(synchronize_session=False)
    )


def sample_records(session: Session, dataset_id: int, limit: int = 5):
    """A few live records for the dataset page (text and time only: no contributor ids)."""
    return session.execute(
        select(Record.external_id, Record.text, Record.created_at)
        .where(Record.dataset_id == dataset_id, Record.taken_down_at.is_(None))
        .order_by(Record.id)
        .limit(limit)
    ).all()
