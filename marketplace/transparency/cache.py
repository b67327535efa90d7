"""A dataset's public report, kept while nothing it is computed from has changed.

The report reads every contributor line of the dataset's payments (the histogram) and every
contributor of its platform (the consent counts): seconds per view at millions of rows, on a
page anyone may open. A computed report is kept, per app, under the dataset's fingerprint:

- its payments: how many allocations, and how many reversals of them (the ledger only grows,
  so any sale, refund or dispute changes these);
- consent: how many decisions the platform's contributors have (appended, never edited);
- records and contributors: the revisions of the platform's datasets (every import, take-down
  and erasure bumps its dataset's; an import elsewhere on the platform can change a
  contributor's region, which counts here too);
- how many versions, the dataset's offers (how many, how many open), its consent policy
  and weighting;
- deliveries: how many downloads of its licenses and deletion receipts (the overdue count).

Counts rather than newest ids: on PostgreSQL a row with a smaller id can commit after one
with a larger id, and a newest-id marker would then miss it; an append-only table's count
grows with every commit. The fingerprint costs a count of the platform's consent decisions,
which computing the report reads anyway.

It is reused for at most TRANSPARENCY_CACHE_SECONDS even so: a decision dated ahead takes
effect as time passes, which no row records. Each process keeps its own (at most `SIZE`
reports, least recently used out first).
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import replace

from flask import current_app
from sqlalchemy import text
from sqlalchemy.orm import Session

from marketplace.catalog.models import Dataset
from marketplace.transparency.reports import DatasetReport, dataset_report

SIZE = 512

FINGERPRINT_SQL = text("""
SELECT
  (SELECT COUNT(*) FROM allocations WHERE dataset_id = :dataset_id),
  (SELECT COUNT(*) FROM ledger_transactions t JOIN allocations a ON a.id = t.allocation_id
   WHERE a.dataset_id = :dataset_id),
  (SELECT COUNT(*) FROM consents WHERE platform_id = :platform_id),
  (SELECT SUM(revision) FROM datasets WHERE platform_id = :platform_id),
  (SELECT COUNT(*) FROM dataset_versions WHERE dataset_id = :dataset_id),
  (SELECT COUNT(*) FROM offers WHERE dataset_id = :dataset_id),
  (SELECT COUNT(*) FROM offers WHERE dataset_id = :dataset_id AND retired_at IS NULL),
  (SELECT COUNT(*) FROM downloads d JOIN licenses l ON l.id = d.license_id WHERE l.dataset_id = :dataset_id),
  (SELECT COUNT(*) FROM withdrawal_acks k JOIN licenses l ON l.id = k.license_id WHERE l.dataset_id = :dataset_id)
""")


class ReportCache:
    """Reports by key, each for `seconds` at most; thread-safe."""

    def __init__(self, seconds: float, size: int = SIZE, clock=time.monotonic) -> None:
        self.seconds, self.size, self.clock = seconds, size, clock
        #: key → (when it expires, the report without its dataset).
        self._reports: OrderedDict[tuple, tuple[float, DatasetReport]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple) -> DatasetReport | None:
        with self._lock:
            found = self._reports.get(key)
            if found is None:
                return None
            if self.clock() >= found[0]:
                del self._reports[key]
                return None
            self._reports.move_to_end(key)
            return found[1]

    def put(self, key: tuple, report: DatasetReport) -> None:
        with self._lock:
            self._reports[key] = (self.clock() + self.seconds, report)
            self._reports.move_to_end(key)
            while len(self._reports) > self.size:
                self._reports.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._reports.clear()


def report_cache() -> ReportCache:
    """The current app's cache (made on first use, with the app's TRANSPARENCY_CACHE_SECONDS)."""
    extensions = current_app.extensions
    if "transparency_reports" not in extensions:
        extensions["transparency_reports"] = ReportCache(current_app.config["TRANSPARENCY_CACHE_SECONDS"])
    return extensions["transparency_reports"]


def fingerprint(session: Session, dataset: Dataset, currency: str) -> tuple:
    """Everything the report is computed from that can change, in one round trip (see above)."""
    row = session.execute(FINGERPRINT_SQL, {"dataset_id": dataset.id, "platform_id": dataset.platform_id}).one()
    return (dataset.id, currency, dataset.consent_policy, dataset.weighting, *row)


def cached_dataset_report(session: Session, dataset: Dataset, *, currency: str,
                          opt_in_regions: frozenset[str], ack_overdue_days: int = 30) -> DatasetReport:
    """`reports.dataset_report`, computed again only when its fingerprint changed or it aged out."""
    cache = report_cache()
    if cache.seconds <= 0:
        return dataset_report(session, dataset, currency=currency, opt_in_regions=opt_in_regions,
                              ack_overdue_days=ack_overdue_days)
    key = (*fingerprint(session, dataset, currency), opt_in_regions, ack_overdue_days)
    kept = cache.get(key)
    if kept is not None:
        # The dataset's own row (title, status) is this request's.
        return replace(kept, dataset=dataset)
    report = dataset_report(session, dataset, currency=currency, opt_in_regions=opt_in_regions,
                              ack_overdue_days=ack_overdue_days)
    # Kept without the ORM object: it belongs to this request's session, and whatever the page
    # loads onto it afterwards would stay in memory with it.
    cache.put(key, replace(report, dataset=None))
    return report
