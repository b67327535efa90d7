"""Personal data: the catalog's hooks (scan on import, refuse an unscanned freeze, the version's
report), the findings list, a contributor's own counts, and allow-listing a false alarm.

Services take a session and plain values, flush, never commit.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from marketplace.boundary import after_commit
from marketplace.catalog import hooks, versions
from marketplace.catalog.models import (
    PII_ALLOW_MAX,
    Contributor,
    Dataset,
    DatasetVersion,
    Record,
)
from marketplace.errors import Conflict, NotFound, invalid_field
from marketplace.pii import detector, scanning
from marketplace.pii.models import PiiFinding, VersionPiiReport
from marketplace.pii.redacting import canonical_texts


class ScanPending(Conflict):
    """A freeze waits for the personal-data scan: 409 `{message, scanned, total}`."""

    def __init__(self, scanned: int, total: int):
        super().__init__(
            f"The personal-data scan has checked {scanned:,} of {total:,} live records; "
            "freeze again once every record is scanned.")
        self.extra = {"scanned": scanned, "total": total}


def register() -> None:
    """Attach the scan to the catalog's imports and freezes, and placeholders to the canonical
    export a version's sha256 covers (called by create_app)."""
    hooks.register(after_import=records_imported, before_freeze=require_scanned,
                   after_freeze=freeze_report)
    versions.register_text_rewriter(canonical_texts)


def records_imported(session: Session, dataset_id: int, revision: int) -> None:
    """Forget what was found in the records the import created or changed, then scan them:
    here if few (PII_INLINE_SCAN_MAX), else in a background job once the import commits."""
    scanning.forget_changed(session, dataset_id, revision)
    scanned, total = scanning.pending_count(session, dataset_id)
    if total - scanned <= current_app.config["PII_INLINE_SCAN_MAX"]:
        scanning.scan_records(session, dataset_id)
    else:
        from marketplace.pii import jobs

        after_commit(jobs.scan_dataset, dataset_id)


def require_scanned(session: Session, dataset_id: int) -> None:
    """:raise ScanPending: a live record of the dataset isn't scanned by the current detector."""
    scanned, total = scanning.pending_count(session, dataset_id)
    if scanned < total:
        raise ScanPending(scanned, total)


def stale_datasets(session: Session) -> list[int]:
    """Datasets with live records not scanned by the current detector (new detector, lost job)."""
    version = detector.DETECTOR_VERSION
    return list(session.scalars(
        select(Record.dataset_id).where(
            Record.taken_down_at.is_(None),
            (Record.pii_version.is_(None)) | (Record.pii_version != version))
        .group_by(Record.dataset_id).order_by(Record.dataset_id)))


# ---- the version's report ---------------------------------------------------------------------


def freeze_report(session: Session, dataset: Dataset, version: DatasetVersion) -> VersionPiiReport:
    """Count what the version's exports replace, keep and allow, under the dataset's settings
    now (kept with the report, so every export of the version does what it says)."""
    keep = set(dataset.pii_keep or [])
    allow = list(dataset.pii_allow or [])
    found, kept, allowed, with_findings = _counts(session, dataset.id, keep, set(allow))
    report = VersionPiiReport(
        version_id=version.id, detector=detector.DETECTOR, detector_version=detector.DETECTOR_VERSION,
        records_scanned=version.record_count, records_with_findings=with_findings,
        redaction=dataset.pii_redaction or "placeholder", findings=found, kept=kept,
        allowed=allowed, keep_types=sorted(keep), allow_values=allow,
    )
    session.add(report)
    session.flush()
    return report


def _counts(session: Session, dataset_id: int, keep: set[str], allow: set[str]):
    """({type: replaced}, {type: kept}, allowed, records with a replaced value) over live records."""
    if not allow:
        rows = session.execute(
            select(PiiFinding.type, func.count(), func.count(func.distinct(PiiFinding.record_id)))
            .join(Record, Record.id == PiiFinding.record_id)
            .where(PiiFinding.dataset_id == dataset_id, Record.taken_down_at.is_(None))
            .group_by(PiiFinding.type)).all()
        found = {kind: n for kind, n, _ in rows if kind not in keep}
        kept = {kind: n for kind, n, _ in rows if kind in keep}
        replaced = session.scalar(
            select(func.count(func.distinct(PiiFinding.record_id)))
            .join(Record, Record.id == PiiFinding.record_id)
            .where(PiiFinding.dataset_id == dataset_id, Record.taken_down_at.is_(None),
                   PiiFinding.type.not_in(keep) if keep else true()))
        return dict(sorted(found.items())), dict(sorted(kept.items())), 0, int(replaced or 0)
    # An allow-list compares values: read each finding's text (only records with findings).
    found, kept, allowed, records = Counter(), Counter(), 0, set()
    rows = session.execute(
        select(PiiFinding.record_id, PiiFinding.type, PiiFinding.start, PiiFinding.end, Record.text)
        .join(Record, Record.id == PiiFinding.record_id)
        .where(PiiFinding.dataset_id == dataset_id, Record.taken_down_at.is_(None))
        .execution_options(yield_per=5_000))
    for record_id, kind, start, end, text in rows:
        if kind in keep:
            kept[kind] += 1
        elif text[start:end] in allow:
            allowed += 1
        else:
            found[kind] += 1
            records.add(record_id)
    return dict(sorted(found.items())), dict(sorted(kept.items())), allowed, len(records)


@dataclass(frozen=True)
class Report:
    dataset: Dataset
    version: DatasetVersion
    row: VersionPiiReport


def version_report(session: Session, dataset: Dataset, number: str) -> Report:
    """The scan report of the dataset's version `number`.

    :raise NotFound: no such version, or one frozen before the scan existed (no report).
    """
    version = session.scalar(select(DatasetVersion).where(
        DatasetVersion.dataset_id == dataset.id, DatasetVersion.number == number))
    row = session.get(VersionPiiReport, version.id) if version is not None else None
    if row is None:
        raise NotFound(f"No scan report for version {number!r} of {dataset.slug!r}.")
    return Report(dataset=dataset, version=version, row=row)


def latest_report(session: Session, dataset: Dataset) -> VersionPiiReport | None:
    """The scan report of the dataset's newest version, if it has one (for the dataset page)."""
    return session.scalar(
        select(VersionPiiReport).join(DatasetVersion, DatasetVersion.id == VersionPiiReport.version_id)
        .where(DatasetVersion.dataset_id == dataset.id).order_by(DatasetVersion.id.desc()).limit(1))


# ---- findings (the platform's own) ------------------------------------------------------------


def findings_statement(dataset_id: int, kind: str | None):
    """The dataset's findings on live records, by record then offset: (external id, type, start, end)."""
    statement = (select(Record.external_id, PiiFinding.type, PiiFinding.start, PiiFinding.end)
                 .join(Record, Record.id == PiiFinding.record_id)
                 .where(PiiFinding.dataset_id == dataset_id, Record.taken_down_at.is_(None))
                 .order_by(Record.id, PiiFinding.start))
    if kind is not None:
        statement = statement.where(PiiFinding.type == kind)
    return statement


def findings_page(session: Session, dataset_id: int, kind: str | None, page: int, per_page: int):
    """One page of findings and their total (the platform's; the caller checked ownership)."""
    statement = findings_statement(dataset_id, kind)
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    rows = session.execute(statement.limit(per_page).offset((page - 1) * per_page)).all()
    return [{"external_id": e, "type": t, "start": s, "end": n} for e, t, s, n in rows], total


def findings_in_context(session: Session, dataset_id: int, kind: str | None, page: int, per_page: int,
                        around: int = 40):
    """For the platform's findings page: each finding with the text around it (its own text)."""
    statement = (select(Record.external_id, PiiFinding.type, PiiFinding.start, PiiFinding.end, Record.text)
                 .join(Record, Record.id == PiiFinding.record_id)
                 .where(PiiFinding.dataset_id == dataset_id, Record.taken_down_at.is_(None))
                 .order_by(Record.id, PiiFinding.start))
    if kind is not None:
        statement = statement.where(PiiFinding.type == kind)
    total = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    items = []
    for external_id, found_kind, start, end, text in session.execute(
            statement.limit(per_page).offset((page - 1) * per_page)):
        items.append({"external_id": external_id, "type": found_kind, "start": start, "end": end,
                      "before": text[max(0, start - around):start], "value": text[start:end],
                      "after": text[end:end + around]})
    return items, total


def allow_finding(session: Session, dataset: Dataset, external_id: str, start: int) -> str:
    """Put the value of one finding (record `external_id`, offset `start`) on the dataset's
    allow-list, so its exports keep it as written. Returns the value.

    :raise NotFound: no such finding in the dataset.
    :raise Invalid: the allow-list already holds 1,000 values (names `pii_allow`).
    """
    row = None if "\x00" in external_id else session.execute(
        select(Record.text, PiiFinding.end)
        .join(PiiFinding, PiiFinding.record_id == Record.id)
        .where(Record.dataset_id == dataset.id, Record.external_id == external_id,
               PiiFinding.start == start)).first()
    if row is None:
        raise NotFound(f"No finding at {start} in record {external_id!r}.")
    value = row[0][start:row[1]]
    allow = list(dataset.pii_allow or [])
    if value not in allow:
        if len(allow) >= PII_ALLOW_MAX:
            raise invalid_field("pii_allow", f"The allow-list holds at most {PII_ALLOW_MAX:,} values.")
        dataset.pii_allow = [*allow, value]
        session.flush()
    return value


# ---- a contributor's own records --------------------------------------------------------------


def removed_for_user(session: Session, user_id: int) -> dict:
    """What exports remove from the live records of every identity of account `user_id`:
    `{records_with_findings, findings: {type: n}}`, each dataset's kept types and allowed
    values left out (they stay as written)."""
    rows = session.execute(
        select(Record.id, PiiFinding.type, PiiFinding.start, PiiFinding.end, Record.text,
               Dataset.pii_keep, Dataset.pii_allow)
        .join(PiiFinding, PiiFinding.record_id == Record.id)
        .join(Contributor, Contributor.id == Record.contributor_id)
        .join(Dataset, Dataset.id == Record.dataset_id)
        .where(Contributor.user_id == user_id, Record.taken_down_at.is_(None)))
    found, records = Counter(), set()
    for record_id, kind, start, end, text, keep, allow in rows:
        if kind in (keep or ()) or (allow and text[start:end] in allow):
            continue
        found[kind] += 1
        records.add(record_id)
    return {"records_with_findings": len(records), "findings": dict(sorted(found.items()))}
