"""Redacting exports a batch at a time: the batch's stored spans in one query, then `redact`.

Delivery's export stream (ordered by record id: a batch's findings are one range of the
findings' primary key, `spans_between`) and the catalog's canonical export at freeze (ordered
by external id: a batch is a list of ids, `texts`, chunks of IDS_PER_STATEMENT on SQLite, one
array on PostgreSQL) read the findings of each batch of their server-side cursor in one
statement, never one per record; only the records that have findings are spliced, the others'
texts pass as they are.

A version's exports honour the redaction, kept types and allowed values its scan report froze
(`VersionPiiReport`; a version frozen before the scan existed: the dataset's settings now).
A record that is not scanned yet (changed after the version was frozen, its scan job still
queued) is scanned here, in memory, so no unscanned text is ever delivered.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy.orm import Session

from marketplace.catalog.models import Dataset
from marketplace.pii import detector
from marketplace.pii.models import VersionPiiReport
from marketplace.pii.redaction import PLACEHOLDER, PSEUDONYM, license_key, redact
from marketplace.pii.scanning import IDS_PER_STATEMENT

Span = tuple[str, int, int]


@dataclass(frozen=True)
class Settings:
    """What an export does with the findings: the mode, the types kept, the values allowed."""

    mode: str = PLACEHOLDER
    keep: frozenset[str] = frozenset()
    allow: frozenset[str] = frozenset()


def dataset_settings(dataset: Dataset, *, mode: str | None = None) -> Settings:
    """The dataset's settings now (`mode` overrides its redaction: the canonical export is placeholders)."""
    return Settings(mode=mode or dataset.pii_redaction or PLACEHOLDER, keep=frozenset(dataset.pii_keep or ()),
                    allow=frozenset(dataset.pii_allow or ()))


def version_settings(session: Session, version_id: int, dataset_id: int) -> Settings:
    """The settings the version's scan report froze (what its exports honour)."""
    report = session.get(VersionPiiReport, version_id)
    if report is None:
        return dataset_settings(session.get(Dataset, dataset_id))
    return Settings(mode=report.redaction, keep=frozenset(report.keep_types or ()),
                    allow=frozenset(report.allow_values or ()))


def same_redaction(session: Session, earlier_id: int, later_id: int, dataset_id: int) -> bool:
    """Whether two versions' exports redact alike: the same frozen settings and detector version.

    A delta carries only records added or changed between them; if redaction differs, an
    unchanged record's text differs too, and the buyer's patched copy would keep what the
    later full export removes.
    """
    earlier, later = session.get(VersionPiiReport, earlier_id), session.get(VersionPiiReport, later_id)
    detectors = (earlier.detector_version if earlier else None, later.detector_version if later else None)
    return (detectors[0] == detectors[1]
            and version_settings(session, earlier_id, dataset_id) == version_settings(session, later_id, dataset_id))


class Redactor:
    """Redacts batches of (record id, text, scanned) for one export."""

    def __init__(self, session: Session, settings: Settings, *, secret: str | None = None,
                 license_id: int | None = None):
        if settings.mode == PSEUDONYM and (secret is None or license_id is None):
            raise ValueError("Pseudonyms need the app's secret and the license.")
        self.settings = settings
        self.key = license_key(secret, license_id) if settings.mode == PSEUDONYM else None
        connection = session.connection()
        self.connection = connection
        self.postgres = connection.dialect.name == "postgresql"
        self.mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"

    # ---- the batch's stored spans, one statement -------------------------------------------

    def spans_of(self, ids: list[int]) -> dict[int, list[Span]]:
        found: dict[int, list[Span]] = defaultdict(list)
        select = "SELECT record_id, type, start_offset, end_offset FROM pii_findings WHERE record_id "
        if self.postgres:
            chunks = [(select + "= ANY(%s)", (ids,))]
        else:
            chunks = [(select + "IN (" + ", ".join([self.mark] * len(part)) + ")", tuple(part))
                      for part in (ids[i:i + IDS_PER_STATEMENT] for i in range(0, len(ids), IDS_PER_STATEMENT))]
        for statement, parameters in chunks:
            for record_id, kind, start, end in self.connection.exec_driver_sql(statement, parameters):
                found[record_id].append((kind, start, end))
        return found

    def spans_between(self, first: int, last: int) -> dict[int, list[Span]]:
        """The spans of the records with ids first…last (one range of the primary key's index),
        for a batch read in id order."""
        found: dict[int, list[Span]] = defaultdict(list)
        for record_id, kind, start, end in self.connection.exec_driver_sql(
                "SELECT record_id, type, start_offset, end_offset FROM pii_findings "
                f"WHERE record_id BETWEEN {self.mark} AND {self.mark}", (first, last)):
            found[record_id].append((kind, start, end))
        return found

    # ---- texts ------------------------------------------------------------------------------

    def texts(self, batch: list[tuple[int, str, bool]]) -> list[str]:
        """The batch's texts as exported, in its order (its spans read by the list of its ids)."""
        if not batch:
            return []
        spans = self.spans_of([row[0] for row in batch])
        return [text if scanned and record_id not in spans else self.text(text, spans.get(record_id) if scanned else None)
                for record_id, text, scanned in batch]

    def text(self, text: str, spans: list[Span] | None) -> str:
        """One record's text as exported: its stored spans redacted (None: not scanned yet, so
        scanned here first)."""
        if spans is None:
            spans = detector.scan(text)
        if not spans:
            return text
        settings = self.settings
        return redact(text, spans, settings.mode, self.key, settings.keep, settings.allow)


def canonical_texts(session: Session, dataset: Dataset):
    """The catalog's canonical export (a version's sha256) redacts with placeholders, under the
    dataset's kept types and allowed values as its scan report is about to freeze them."""
    return Redactor(session, dataset_settings(dataset, mode=PLACEHOLDER)).texts
