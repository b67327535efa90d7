"""A license as the API and the pages show it: its status as the clock makes it, its open
payment, and how its payments were shared."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.allocation.models import Allocation
from marketplace.allocation.reports import allocation_totals
from marketplace.licensing.models import License, LicenseStatus
from marketplace.licensing.services import effective_status
from marketplace.payments import services as payments
from marketplace.payments.models import Refund


def license_view(session: Session, license: License) -> dict:
    status = effective_status(license)
    open_payment = (payments.open_payment(session, license.id)
                    if status in (LicenseStatus.PENDING_PAYMENT, LicenseStatus.ACTIVE) else None)
    return {
        "id": license.id,
        "status": status,
        "dataset": license.terms["dataset"]["slug"],
        "offer": {"id": license.offer_id, "name": license.terms["offer"]["name"]},
        "buyer": license.buyer.name,
        "terms": license.terms,
        "terms_sha256": license.terms_sha256,
        "accepted_at": license.accepted_at,
        "period_start": license.period_start,
        "period_end": license.period_end,
        "pay_by": license.pay_by,
        "versions": [row.version.number for row in license.version_rows],
        "price": {"amount": license.price_amount, "currency": license.currency},
        "payment": {
            "provider": open_payment.provider, "payment_intent_id": open_payment.payment_intent_id,
            "client_secret": open_payment.client_secret, "status": open_payment.status,
            "purpose": open_payment.purpose,
        } if open_payment else None,
        "split": license_split(session, license),
    }


def license_split(session: Session, license: License) -> dict | None:
    """How the license's payments were shared, net of refunds (None before any is allocated)."""
    paid_payments = payments.succeeded_payments(session, license.id)
    keys = [payments.payment_key(p) for p in paid_payments]
    allocations = session.scalars(select(Allocation).where(Allocation.payment_key.in_(keys))).all() if keys else []
    if not allocations:
        return None
    totals = allocation_totals(session, [a.id for a in allocations])
    paid = sum(a.gross for a in allocations)
    # Only allocated payments: one given back unallocated (license canceled meanwhile) is neither.
    allocated_keys = {a.payment_key for a in allocations}
    refunded = sum(payments.held_back(p) for p in paid_payments if payments.payment_key(p) in allocated_keys)

    def money(amount: int) -> dict:
        return {"amount": amount, "currency": license.currency}

    return {
        "paid": money(paid), "refunded": money(refunded),
        "marketplace_fee": money(totals["marketplace_fees"]),
        "to_platform": money(totals["platform_payable"]),
        "to_contributors": money(totals["contributor_payable"]),
        "unallocated": money(totals["dataset_unallocated"]),
        "contributors_paid": totals["contributors_paid"],
    }


def license_refunds(session: Session, license_id: int) -> list[Refund]:
    ids = [p.id for p in payments.license_payments(session, license_id)]
    if not ids:
        return []
    return list(session.scalars(select(Refund).where(Refund.payment_id.in_(ids)).order_by(Refund.id)))


#: Sections other domains add to the buyer's license page (delivery: downloads, manifest,
#: withdrawals), by name. Registered in create_app, so licensing imports none of them: the
#: dependency points from delivery to licensing.
_page_sections: dict[str, Callable[[Session, License], dict]] = {}


def register_license_page_section(name: str, build: Callable[[Session, License], dict]) -> None:
    _page_sections[name] = build


def license_page_sections(session: Session, license: License) -> dict[str, dict]:
    """Each registered section's context for this license (read only: the page is a GET)."""
    return {name: build(session, license) for name, build in _page_sections.items()}
