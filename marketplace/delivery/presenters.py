"""Delivery as the license page shows it: downloads, covered versions, log, withdrawals."""
from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.delivery import services, withdrawals
from marketplace.licensing.models import License, LicenseStatus
from marketplace.licensing.services import effective_status

SHOWN = 50


def license_delivery(session: Session, license: License, *, opt_in_regions: frozenset[str]) -> dict:
    """What the buyer's license page shows of delivery (read only)."""
    active = effective_status(license) == LicenseStatus.ACTIVE
    covered = services.covered_versions(session, license) if license.period_start else []
    items, total = withdrawals.withdrawals(session, license, opt_in_regions=opt_in_regions, per_page=SHOWN)
    if not total:
        last = None
    elif total <= SHOWN:
        last = items[-1]
    else:  # the newest withdrawal: the receipt the acknowledge button gives covers every one
        last = withdrawals.withdrawals(session, license, opt_in_regions=opt_in_regions, page=total, per_page=1)[0][-1]
    return {
        "active": active,
        "annual": license.terms.get("billing") == "annual",
        "covered": [version.number for version in covered],
        "changes": services.version_changes(session, license) if covered else [],
        "log": services.download_log(session, license.id)[0],
        "withdrawals": items,
        "withdrawals_total": total,
        "acknowledged_through": withdrawals.acknowledged_through(session, license.id),
        "ack_through": last.withdrawn_at if last else None,
    }
