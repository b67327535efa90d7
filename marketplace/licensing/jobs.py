"""Background work of licensing: the clock's changes to license statuses, saved."""
from __future__ import annotations

from huey import crontab

from marketplace.extensions import db
from marketplace.jobs import periodic_task


@periodic_task(crontab(minute="*"))
def expire_licenses() -> None:
    """Cancel unpaid licenses past their deadline; expire those whose term ended.

    Reads show these statuses as they are now (licensing.services.effective_status);
    this job is what saves them.
    """
    from marketplace.licensing.services import expire_due

    expire_due(db.session)
