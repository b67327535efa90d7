"""Delivery's verbs: issue signed download URLs, cut an export, log a download, read the log.

Services take a session and plain values, flush, never commit.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from marketplace.accounts.models import User
from marketplace.catalog.models import Dataset, DatasetVersion, Record
from marketplace.consent.eligibility import EligibilityQuestion
from marketplace.db import utcnow
from marketplace.delivery import tokens
from marketplace.delivery.export import ExportSpec
from marketplace.delivery.models import Download
from marketplace.errors import Conflict, invalid_field
from marketplace.licensing.models import License, LicenseStatus
from marketplace.licensing.services import effective_status
from marketplace.pii.redacting import same_redaction, version_settings


@dataclass(frozen=True)
class IssuedDownload:
    """Two signed tokens (the export, its manifest) and what they are for."""

    export_token: str
    manifest_token: str
    expires_at: datetime
    version: str
    since_version: str | None


def covered_versions(session: Session, license: License) -> list[DatasetVersion]:
    """The versions the license covers, oldest first: those it was sold and renewed over, and for
    an annual license every version published during its period (SPEC.md: the fresh-data deal)."""
    covered = DatasetVersion.id.in_([row.version_id for row in license.version_rows])
    if license.terms.get("billing") == "annual" and license.period_start is not None:
        covered = covered | ((DatasetVersion.dataset_id == license.dataset_id)
                             & (DatasetVersion.created_at >= license.period_start)
                             & (DatasetVersion.created_at < license.period_end))
    return list(session.scalars(select(DatasetVersion).where(covered).order_by(DatasetVersion.id)))


def require_active(license: License, now: datetime | None = None) -> None:
    """:raise Conflict: the license is not active now (pending, expired, refunded…)."""
    status = effective_status(license, now)
    if status != LicenseStatus.ACTIVE:
        raise Conflict(f"License {license.id} is {status}: only an active license downloads.")


def issue_download(session: Session, license: License, *, user_id: int | None, secret: str, ttl_seconds: int,
                   version: str | None = None, since_version: str | None = None,
                   now: datetime | None = None) -> IssuedDownload:
    """Sign the export's and the manifest's URLs for one covered version (default: the latest).

    Writes nothing: the download itself is logged when its body has been sent.
    :raise Conflict: the license is not active.
    :raise Invalid: `version` not covered by the license; `since_version` not a covered
        version earlier than `version`.
    :raise Conflict: the two versions redact personal data differently (a delta would leave
        unchanged records as the earlier version redacted them).
    """
    now = now or utcnow()
    require_active(license, now)
    covered = covered_versions(session, license)
    by_number = {row.number: row for row in covered}
    if version is None:
        chosen = covered[-1]
    elif version in by_number:
        chosen = by_number[version]
    else:
        raise invalid_field("version", f"License {license.id} covers {', '.join(by_number)}, not {version}.")
    since = None
    if since_version is not None:
        since = by_number.get(since_version)
        if since is None or since.id >= chosen.id:
            raise invalid_field("since_version", f"Must be a version this license covers that is earlier than "
                                                 f"{chosen.number}.")
        if not same_redaction(session, since.id, chosen.id, license.dataset_id):
            message = (f"Personal data is redacted differently in {chosen.number} than in {since.number} "
                       f"(a new detector or new settings): download the whole of {chosen.number} instead.")
            raise Conflict(message, {"json": {"since_version": [message]}})
    expires_at = (now + timedelta(seconds=ttl_seconds)).replace(microsecond=0)
    grant = dict(license_id=license.id, version_id=chosen.id, since_version_id=since.id if since else None,
                 user_id=user_id, expires_at=tokens.epoch(expires_at))
    return IssuedDownload(
        export_token=tokens.sign(secret, tokens.Grant(kind=tokens.EXPORT, **grant)),
        manifest_token=tokens.sign(secret, tokens.Grant(kind=tokens.MANIFEST, **grant)),
        expires_at=expires_at, version=chosen.number, since_version=since.number if since else None,
    )


def export_spec(session: Session, license_id: int, grant: tokens.Grant, *, secret: str,
                opt_in_regions: frozenset[str], at: datetime) -> ExportSpec:
    """What the export of a verified grant holds, as of `at` (the moment of the download).

    :raise Conflict: the license is no longer active.
    """
    license = session.get(License, license_id)
    require_active(license, at)
    dataset = session.get(Dataset, license.dataset_id)
    version = session.get(DatasetVersion, grant.version_id)
    since = session.get(DatasetVersion, grant.since_version_id) if grant.since_version_id else None
    question = EligibilityQuestion(
        dataset_id=dataset.id, platform_id=dataset.platform_id, consent_policy=dataset.consent_policy,
        weighting=dataset.weighting, version_ids=(version.id,), scopes=tuple(license.terms["scopes"]),
        at=at, opt_in_regions=opt_in_regions)
    return ExportSpec(
        license_id=license.id, question=question, version_id=version.id, version_number=version.number,
        version_revision=version.revision, record_estimate=version.record_count,
        first_record_at=version.first_record_at, last_record_at=version.last_record_at,
        since_version_id=since.id if since else None, since_number=since.number if since else None,
        since_revision=since.revision if since else None, since_frozen_at=since.created_at if since else None,
        secret=secret, pii=version_settings(session, version.id, dataset.id))


def record_download(session: Session, *, license_id: int, user_id: int | None, version_id: int,
                    since_version_id: int | None, at: datetime, bytes_sent: int, records: int,
                    sha256: str | None, complete: bool, gzip: bool) -> Download:
    """Append one download to the log (the job queued at the end of a download's body)."""
    row = Download(license_id=license_id, user_id=user_id, version_id=version_id,
                   since_version_id=since_version_id, at=at, finished_at=utcnow(), bytes=bytes_sent,
                   records=records, sha256=sha256 if complete else None, complete=complete, gzip=gzip)
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class LoggedDownload:
    id: int
    at: datetime
    user: str | None
    version: str
    since_version: str | None
    bytes: int
    records: int
    sha256: str | None
    complete: bool


def download_log(session: Session, license_id: int, *, page: int = 1,
                 per_page: int = 100) -> tuple[list[LoggedDownload], int]:
    """One page of the license's downloads, newest first, and how many in all."""
    since = DatasetVersion.__table__.alias("since")
    total = session.scalar(select(func.count()).select_from(Download).where(Download.license_id == license_id))
    rows = session.execute(
        select(Download, User.email, DatasetVersion.number, since.c.number)
        .join(DatasetVersion, DatasetVersion.id == Download.version_id)
        .outerjoin(since, since.c.id == Download.since_version_id)
        .outerjoin(User, User.id == Download.user_id)
        .where(Download.license_id == license_id)
        .order_by(Download.at.desc(), Download.id.desc()).limit(per_page).offset((page - 1) * per_page)).all()
    return [LoggedDownload(d.id, d.at, email, number, since_number, d.bytes, d.records, d.sha256, d.complete)
            for d, email, number, since_number in rows], int(total)


def platform_download_log(session: Session, platform_id: int, limit: int = 200) -> list[dict]:
    """Downloads of the platform's datasets, newest first: who took which version when."""
    rows = session.execute(text(
        "SELECT d.id, d.at, d.license_id, o.name AS buyer, ds.slug, v.number, d.bytes, d.records, d.complete "
        "FROM downloads d JOIN licenses l ON l.id = d.license_id "
        "JOIN organizations o ON o.id = l.buyer_id JOIN datasets ds ON ds.id = l.dataset_id "
        "JOIN dataset_versions v ON v.id = d.version_id "
        "WHERE ds.platform_id = :platform_id ORDER BY d.at DESC, d.id DESC LIMIT :limit"),
        {"platform_id": platform_id, "limit": limit}).mappings().all()
    return [dict(row) for row in rows]


@dataclass(frozen=True)
class VersionChanges:
    """A covered version and what changed in it since the dataset's previous version."""

    number: str
    created_at: datetime
    record_count: int
    previous: str | None
    added: int
    changed: int
    removed: int


def version_changes(session: Session, license: License) -> list[VersionChanges]:
    """For each version the license covers, the records added, changed and removed since the
    version before it (counted from the records' revisions, one aggregate per version)."""
    versions = list(session.scalars(select(DatasetVersion).where(DatasetVersion.dataset_id == license.dataset_id)
                                    .order_by(DatasetVersion.id)))
    covered = {version.id for version in covered_versions(session, license)}
    out = []
    for previous, version in zip([None, *versions], versions, strict=False):
        if version.id not in covered:
            continue
        low = previous.revision if previous else -1
        high = version.revision
        was_in = (Record.added_rev <= low) & (Record.taken_down_rev.is_(None) | (Record.taken_down_rev > low))
        added, changed, removed = session.execute(select(
            func.count().filter((Record.added_rev > low) & (Record.added_rev <= high)
                                & (Record.taken_down_rev.is_(None) | (Record.taken_down_rev > high))),
            func.count().filter(was_in & (Record.modified_rev > low) & (Record.modified_rev <= high)
                                & (Record.taken_down_rev.is_(None) | (Record.taken_down_rev > high))),
            func.count().filter(was_in & (Record.taken_down_rev > low) & (Record.taken_down_rev <= high)),
        ).where(Record.dataset_id == license.dataset_id)).one()
        out.append(VersionChanges(version.number, version.created_at, version.record_count,
                                  previous.number if previous else None, int(added), int(changed), int(removed)))
    return out
