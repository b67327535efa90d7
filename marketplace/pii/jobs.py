"""Background scans: a dataset's unscanned records on every core, a slice per transaction."""
from __future__ import annotations

from flask import current_app
from huey import crontab

from marketplace.boundary import after_commit
from marketplace.extensions import db
from marketplace.jobs import periodic_task, task
from marketplace.pii import scanning, services


def scan_processes() -> int:
    configured = current_app.config["PII_SCAN_PROCESSES"]
    return configured if configured > 0 else scanning.every_core()


@task(retries=3, retry_delay=30)
def scan_dataset(dataset_id: int, after: int = 0) -> int:
    """Scan up to PII_JOB_SLICE of the dataset's unscanned records with ids above `after`, then
    queue the rest as a new job (each slice commits on its own, so SQLite's writer is never
    held for long). Returns the records scanned in this slice."""
    limit = current_app.config["PII_JOB_SLICE"]
    processes = scan_processes()
    pool = scanning.shared_pool(processes) if processes > 1 else None
    scanned = scanning.scan_records(db.session, dataset_id, processes=processes, pool=pool, limit=limit,
                                    after=after)
    if scanned.records >= limit:
        after_commit(scan_dataset, dataset_id, scanned.last_id)
    return scanned.records


@periodic_task(crontab(minute="*/10"))
def scan_stale() -> None:
    """Queue a scan of every dataset with records the current detector hasn't scanned: after a
    detector version change (everything is scanned again) or a lost job."""
    for dataset_id in services.stale_datasets(db.session):
        after_commit(scan_dataset, dataset_id)

