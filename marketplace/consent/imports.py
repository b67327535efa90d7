"""Platforms importing consent they already collected: NDJSON, validated line by line, atomic.

A line: {"contributor": "<external id>", "dataset": "<slug>" or null (platform-wide),
"scope": "*" or a scope, "status": "granted"|"withdrawn", "at": ISO 8601 (default: now)}.
Every row keeps where it came from: "platform-import:<source>". Written in batches (one
INSERT per batch, contributors resolved per batch), so memory stays flat at any size; one bad
line and the caller rolls everything back (the lines' errors are reported like every bulk
import's: marketplace/line_reader.py).
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from marketplace.catalog.models import SCOPES, Contributor, Dataset
from marketplace.consent.models import ALL_SCOPES, Consent, ConsentStatus
from marketplace.db import utcnow
from marketplace.errors import Invalid, invalid_field
from marketplace.line_reader import MAX_ERRORS, ImportRejected, LineError
from marketplace.text import has_nul

BATCH_SIZE = 2_000
MAX_SOURCE = 100


@dataclass(frozen=True)
class ConsentImportResult:
    imported: int


def _moment(value, now: datetime) -> datetime:
    if value is None:
        return now
    if type(value) is not str:
        raise LineError("at", "Give an ISO 8601 timestamp, like 2024-05-01T12:00:00Z.")
    try:
        moment = datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise LineError("at", f"Bad timestamp {value!r}: use ISO 8601.") from None
    if moment > now:
        raise LineError("at", "A decision can't take effect in the future.")
    return moment


def parse_line(obj, datasets: dict[str, int | None], now: datetime) -> tuple[str, int | None, str, str, datetime]:
    """(contributor external id, dataset id or None, scope, status, at). :raise LineError."""
    if type(obj) is not dict:
        raise LineError(None, "Each line must be a JSON object.")
    contributor = obj.get("contributor")
    if type(contributor) is not str or not 0 < len(contributor) <= 200 or has_nul(contributor):
        raise LineError("contributor", "Give the contributor's external id (1 to 200 characters).")
    slug = obj.get("dataset")
    if slug is not None and (type(slug) is not str or datasets.get(slug) is None):
        raise LineError("dataset", f"{slug!r} is not one of your datasets (null: platform-wide).")
    scope = obj.get("scope", ALL_SCOPES)
    if type(scope) is not str or (scope != ALL_SCOPES and scope not in SCOPES):
        raise LineError("scope", f"Must be \"*\" or one of {', '.join(SCOPES)}.")
    status = obj.get("status")
    if type(status) is not str or status not in set(ConsentStatus):
        raise LineError("status", 'Must be "granted" or "withdrawn".')
    return contributor, datasets.get(slug) if slug is not None else None, scope, status, _moment(obj.get("at"), now)


def import_consents(session: Session, platform_id: int, objects: Iterable[tuple[int, object]], *,
                    source: str, recorded_by: int | None) -> ConsentImportResult:
    """Append each line's decision for the platform's contributors.

    :raise Invalid: a bad source or no lines. :raise ImportRejected: bad lines (nothing written:
        the caller rolls back).
    """
    source = (source or "").strip()
    if not 0 < len(source) <= MAX_SOURCE or has_nul(source):
        raise invalid_field("source", f"Say where the consent was collected (1 to {MAX_SOURCE} characters).")
    datasets = dict(session.execute(select(Dataset.slug, Dataset.id).where(Dataset.platform_id == platform_id)).all())
    now, tag = utcnow(), f"platform-import:{source}"
    errors: list[dict] = []
    truncated = False
    batch: list[tuple[int, tuple]] = []
    imported = 0

    def flush() -> None:
        names = {row[0] for _line, row in batch}
        ids = dict(session.execute(select(Contributor.external_id, Contributor.id).where(
            Contributor.platform_id == platform_id, Contributor.external_id.in_(names))).all())
        rows = []
        for line, (external_id, dataset_id, scope, status, at) in batch:
            if external_id not in ids:
                errors.append({"line": line, "field": "contributor",
                               "message": f"No contributor {external_id!r} on your platform."})
                continue
            rows.append({"contributor_id": ids[external_id], "platform_id": platform_id, "dataset_id": dataset_id,
                         "scope": scope, "status": status, "at": at, "source": tag, "recorded_by": recorded_by})
        if rows and not errors:
            session.execute(insert(Consent), rows)
        batch.clear()

    for number, obj in objects:
        try:
            if isinstance(obj, LineError):
                raise obj
            row = parse_line(obj, datasets, now)
        except LineError as error:
            if len(errors) < MAX_ERRORS:
                errors.append({"line": number, "field": error.field, "message": error.message})
            else:
                truncated = True
            continue
        imported += 1
        batch.append((number, row))
        if len(batch) >= BATCH_SIZE:
            flush()
    if batch:
        flush()
    if errors:
        errors.sort(key=lambda error: error["line"])
        raise ImportRejected(errors[:MAX_ERRORS], truncated or len(errors) > MAX_ERRORS)
    if imported == 0:
        raise Invalid("The file holds no consent decisions.", {"body": ["No lines found."]})
    return ConsentImportResult(imported=imported)
