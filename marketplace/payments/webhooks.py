"""The processor's events: verified, recorded once in the inbox, acted on from the signed payload.

Each event id is inserted into the inbox in the same database transaction as
its effect, so a replayed or duplicated event does nothing. Effects are keyed
by what they are about (the PaymentIntent, the cumulative refunded amount),
so a new event id carrying the same facts adds nothing either.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from marketplace.db import utcnow
from marketplace.payments import services
from marketplace.payments.models import PaymentStatus, WebhookEvent

HANDLED = (
    "payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded",
    "charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
)

#: Other domains' events (payouts: Connect accounts and transfers), registered in create_app so
#: payments imports none of them: event type → handler(session, event object, event id).
_registered: dict[str, Callable[[Session, dict, str], None]] = {}


def register(event_type: str, handler: Callable[[Session, dict, str], None]) -> None:
    """Apply `handler` to verified `event_type` events, once per event id (registering again replaces)."""
    _registered[event_type] = handler


def handled(event_type: str) -> bool:
    return event_type in HANDLED or event_type in _registered


def record(session: Session, event: dict) -> bool:
    """Put the event in the inbox; False when it was there already (a replay)."""
    try:
        with session.begin_nested():
            session.add(WebhookEvent(event_id=str(event["id"]), type=str(event["type"]), payload=event))
    except IntegrityError:
        return False
    return True


def handle(session: Session, event: dict) -> int | None:
    """Apply one verified event. Returns a payment id to settle after commit, if any."""
    kind = event["type"]
    obj = (event.get("data") or {}).get("object") or {}
    if kind in _registered:
        _registered[kind](session, obj, str(event["id"]))
        return None
    match kind:
        case "payment_intent.succeeded":
            payment = services.payment_by_intent(session, obj.get("id", ""))
            if payment is None:
                return None  # not ours
            charge = obj.get("latest_charge")
            charge_id = charge if isinstance(charge, str) else (charge or {}).get("id")
            # The payment's time is when we learn of it, to the microsecond: consent is decided
            # as of then, and Stripe's `created` (whole seconds) would let a decision recorded
            # in the same second land after the payment it preceded.
            services.mark_succeeded(session, payment, charge_id=charge_id, at=utcnow())
            return payment.id
        case "payment_intent.payment_failed":
            payment = services.payment_by_intent(session, obj.get("id", ""))
            if payment is not None and payment.status in (PaymentStatus.REQUIRES_PAYMENT,
                                                          PaymentStatus.PROCESSING):
                payment.status = "failed"
                payment.failure_message = ((obj.get("last_payment_error") or {}).get("message")
                                           or "The card was declined.")[:500]
            return None
        case "charge.refunded":
            payment = _payment_of_charge(session, obj)
            if payment is not None:
                if obj.get("id") and not payment.charge_id:
                    payment.charge_id = obj["id"]
                services.record_refunded_total(session, payment, int(obj.get("amount_refunded") or 0),
                                               key=f"event:{event['id']}")
            return None
        case "charge.dispute.created" | "charge.dispute.updated" | "charge.dispute.closed":
            payment = _payment_of_charge(session, obj, charge_field="charge")
            if payment is not None:
                services.record_dispute(session, payment, str(obj.get("id")), int(obj.get("amount") or 0),
                                        str(obj.get("status") or "needs_response"),
                                        key=f"event:{event['id']}")
            return None
    return None


def _payment_of_charge(session: Session, obj: dict, charge_field: str = "id"):
    from sqlalchemy import select

    from marketplace.payments.models import Payment

    intent = obj.get("payment_intent")
    if isinstance(intent, dict):
        intent = intent.get("id")
    if intent:
        payment = services.payment_by_intent(session, intent)
        if payment is not None:
            return payment
    charge_id = obj.get(charge_field)
    if charge_id:
        return session.scalar(select(Payment).where(Payment.charge_id == charge_id))
    return None
