"""Licensing's side of a settled payment (payments.settlement.Settlement): the license turns
active (or is renewed) in the same transaction that allocates the payment; a payment we can't
honour (license canceled, or an exclusive license now holds the offer) is given back."""
from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session

from marketplace.allocation.services import PaymentFacts, allocate_payment
from marketplace.licensing import services, states
from marketplace.licensing.models import License, LicenseStatus
from marketplace.payments import services as payments
from marketplace.payments.models import Payment, PaymentPurpose


class LicenseSettlement:
    def settle(self, session: Session, payment: Payment) -> None:
        license = session.get(License, payment.license_id)
        services.refresh_status(session, license, payment.succeeded_at)
        if payment.purpose == PaymentPurpose.INITIAL:
            holder = services.exclusive_conflict(session, license.offer, exclude_license_id=license.id,
                                                 now=payment.succeeded_at)
            if license.status != LicenseStatus.PENDING_PAYMENT or holder is not None:
                why = "a conflicting license holds the offer" if holder else f"the license is {license.status}"
                payments.refund_unhonoured(session, payment, why)
                return
            services.activate(session, license, paid_at=payment.succeeded_at,
                              reason=f"payment {payment.payment_intent_id} succeeded")
            version_ids = [row.version_id for row in license.version_rows]
        else:
            if license.status not in (LicenseStatus.ACTIVE, LicenseStatus.EXPIRED):
                payments.refund_unhonoured(session, payment, f"the license is {license.status}")
                return
            version_ids = services.renew(session, license, paid_at=payment.succeeded_at)
        config = current_app.config
        allocate_payment(
            session,
            PaymentFacts(key=payments.payment_key(payment), dataset_id=license.dataset_id,
                         version_ids=tuple(version_ids), scopes=tuple(license.terms["scopes"]),
                         gross=payment.amount, currency=payment.currency,
                         contributor_share_bps=license.terms["contributor_share_bps"],
                         paid_at=payment.succeeded_at, license_id=license.id),
            fee_bps=config["MARKETPLACE_FEE_BPS"], opt_in_regions=config["OPT_IN_REGIONS"],
        )
        # Refunds or disputes that arrived before the success event apply now.
        payments.apply_reversals(session, payment, key=f"catch-up:{payment.payment_intent_id}")

    def money_returned(self, session: Session, payment: Payment, *, in_full: bool) -> None:
        license = session.get(License, payment.license_id)
        if in_full and license.status == LicenseStatus.ACTIVE:
            states.move(session, license, LicenseStatus.REFUNDED,
                        f"payment {payment.payment_intent_id} returned in full")
        elif not in_full and license.status == LicenseStatus.REFUNDED:
            states.move(session, license, LicenseStatus.ACTIVE, "money restored (dispute won)")
