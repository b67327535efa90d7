"""Background work of payments: settling a succeeded payment after the webhook answered."""
from __future__ import annotations

from marketplace.extensions import db
from marketplace.jobs import task


@task(retries=3, retry_delay=5)
def settle_payment(payment_id: int) -> None:
    """Activate and allocate (the heavy part of a payment), in the job's one transaction."""
    from marketplace.payments.services import settle

    settle(db.session, payment_id)
