"""Delivery's job: logging a download once its body has been streamed.

The export is a GET, and a GET never writes (boundary.py): the response's own
transaction is rolled back before the body streams. The body's generator
queues this job when it ends (or when the client goes away), and the job
appends the download to the log in its own transaction (jobs.task →
boundary.unit_of_work).
"""
from __future__ import annotations

from marketplace.delivery import services
from marketplace.extensions import db
from marketplace.jobs import task


@task(retries=3, retry_delay=2)
def log_download(**values) -> None:
    services.record_download(db.session, **values)
