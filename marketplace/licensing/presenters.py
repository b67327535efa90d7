"""A license as the API and the pages show it."""
from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.licensing.models import License
from marketplace.payments import services as payments


def license_view(session: Session, license: License) -> dict:
    open_payment = payments.open_payment(session, license) if license.status in ("pending_payment", "active") else None
    return {
        "id": license.id,
        "status": license.status,
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
        "split": payments.license_split(session, license),
    }
