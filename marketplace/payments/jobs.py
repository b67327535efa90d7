"""Background work of payments: settling a succeeded payment after the webhook answered, and
settling the ones whose job was lost."""
from __future__ import annotations

import logging

from huey import crontab

from marketplace.extensions import db
from marketplace.jobs import on_worker_start, periodic_task, task

log = logging.getLogger(__name__)


@task(retries=3, retry_delay=5)
def settle_payment(payment_id: int) -> None:
    """Activate and allocate (the heavy part of a payment), in the job's one transaction."""
    from marketplace.payments.services import settle

    settle(db.session, payment_id)


@on_worker_start
@periodic_task(crontab(minute="*/10"), transaction=False)
def settle_stranded_payments() -> None:
    """Settle every succeeded payment still unallocated, each in its own transaction.

    The queue hands a job to one worker and forgets it: a worker killed mid-settlement (its
    transaction rolled back) loses it. Every worker start and every ten minutes this finds such
    payments and settles them; `settle` allocates a payment once however often it is called,
    so a payment whose job is merely still queued is safe too.
    """
    from marketplace.boundary import unit_of_work
    from marketplace.payments import services

    stranded = unit_of_work(lambda: services.stranded_payment_ids(db.session), write=False)
    if stranded:
        log.info("settling %d stranded payments", len(stranded))
    for payment_id in stranded:
        try:
            unit_of_work(lambda payment_id=payment_id: services.settle(db.session, payment_id))
        except Exception:  # one payment's failure must not strand the others
            log.exception("payment %s could not be settled; the next sweep tries again", payment_id)
