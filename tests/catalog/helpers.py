"""Catalog test helpers: read what the API wrote, and an independent canonical-export hash."""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from sqlalchemy import func, select

from marketplace.catalog.models import (
    Contributor,
    Dataset,
    DatasetVersion,
    Record,
    VersionContributor,
)
from marketplace.extensions import db


def dataset_row(slug: str) -> Dataset:
    return db.session.scalar(select(Dataset).where(Dataset.slug == slug))


def record_count(slug: str, *, live_only: bool = False) -> int:
    statement = select(func.count()).select_from(Record).where(Record.dataset_id == dataset_row(slug).id)
    if live_only:
        statement = statement.where(Record.taken_down_at.is_(None))
    return db.session.scalar(statement)


def contributor_count(platform_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Contributor).where(Contributor.platform_id == platform_id))


def stored_records(slug: str) -> dict[str, dict]:
    """external id → what the database holds for it."""
    rows = db.session.execute(
        select(Record.external_id, Contributor.external_id, Contributor.region, Record.text,
               Record.created_at, Record.tokens, Record.taken_down_at)
        .join(Contributor, Contributor.id == Record.contributor_id)
        .where(Record.dataset_id == dataset_row(slug).id)
    ).all()
    return {
        row[0]: {"contributor": row[1], "region": row[2], "text": row[3], "created_at": row[4],
                 "tokens": row[5], "taken_down": row[6] is not None}
        for row in rows
    }


def version_weights(slug: str, number: str) -> dict[str, tuple[int, int]]:
    """contributor external id → (records, tokens) frozen with the version."""
    version_id = db.session.scalar(
        select(DatasetVersion.id).where(DatasetVersion.dataset_id == dataset_row(slug).id,
                                        DatasetVersion.number == number))
    rows = db.session.execute(
        select(Contributor.external_id, VersionContributor.record_count, VersionContributor.token_count)
        .join(Contributor, Contributor.id == VersionContributor.contributor_id)
        .where(VersionContributor.version_id == version_id)
    ).all()
    return {external_id: (int(records), int(tokens)) for external_id, records, tokens in rows}


def canonical_sha256(lines: list[dict]) -> str:
    """SPEC's canonical export, computed here without the app's code: the last line per
    external id wins; sorted by external id in byte order; keys sorted; UTC timestamps
    with microseconds and a Z; tokens defaulting to the word count."""
    latest = {line["external_id"]: line for line in lines}
    digest = hashlib.sha256()
    for external_id in sorted(latest, key=lambda value: value.encode()):
        line = latest[external_id]
        moment = datetime.fromisoformat(line["created_at"])
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        canonical = {
            "contributor": line["contributor"]["external_id"],
            "created_at": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "external_id": external_id,
            "text": line["text"],
            "tokens": line.get("tokens", len(line["text"].split())),
        }
        digest.update(json.dumps(canonical, sort_keys=True, separators=(",", ":"),
                                 ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()
