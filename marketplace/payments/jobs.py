"""Background work of payments: settling a succeeded payment, expiring licenses."""
from __future__ import annotations

from huey import crontab

from marketplace.db import begin_immediate
from marketplace.extensions import db
from marketplace.jobs import huey, task


@task(retries=3, retry_delay=5)
def settle_payment(payment_id: int) -> None:
    """Activate and allocate (the heavy part of a payment), after the webhook answered."""
    from marketplace.payments.services import settle

    begin_immediate(db.session)
    try:
        settle(db.session, payment_id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    finally:
        db.session.remove()


@huey.periodic_task(crontab(minute="*"))
def expire_licenses() -> None:
    """Cancel unpaid licenses past their deadline; expire those whose term ended."""
    from marketplace.jobs import _state
    from marketplace.licensing.services import expire_due

    with _state["app"].app_context():
        begin_immediate(db.session)
        expire_due(db.session)
        db.session.commit()
        db.session.remove()
