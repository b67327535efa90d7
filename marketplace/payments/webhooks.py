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

from marketplace.allocation.split import MAX_AMOUNT
from marketplace.db import utcnow
from marketplace.errors import DomainError
from marketplace.payments import services
from marketplace.payments.models import PaymentStatus, WebhookEvent
from marketplace.text import has_nul

HANDLED = (
    "payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded",
    "charge.dispute.created", "charge.dispute.updated", "charge.dispute.closed",
)

#: Other domains' events (payouts: Connect accounts and transfers), registered in create_app so
#: payments imports none of them: event type → handler(session, event object, event id).
_registered: dict[str, Callable[[Session, dict, str], None]] = {}


class BadEvent(DomainError):
    """A signed event whose content is not what the processor sends: refused, nothing written."""

    code = 400

    def __init__(self, path: str, message: str):
        super().__init__(f"{path}: {message}", {"json": {path: [message]}})


#: Ids and statuses are stored in columns of at most this many characters.
MAX_ID_TEXT = 255


def event_text(obj: dict, name: str, path: str, *, longest: int = MAX_ID_TEXT) -> str | None:
    """obj[name]: None when absent or null, else a string of 1 to `longest` characters."""
    value = obj.get(name)
    if value is None:
        return None
    if type(value) is not str or not 0 < len(value) <= longest or has_nul(value):
        raise BadEvent(f"{path}.{name}", f"Expected a string of 1 to {longest} characters.")
    return value


def event_amount(obj: dict, name: str, path: str) -> int:
    """obj[name]: a whole number of minor units, 0 when absent."""
    value = obj.get(name, 0)
    if value is None:
        return 0
    # (Bounded by what the money arithmetic takes, not by any one currency's ceiling: Stripe's
    # largest charge in some currencies is past 2**31.)
    if type(value) is not int or not 0 <= value <= MAX_AMOUNT:
        raise BadEvent(f"{path}.{name}", "Expected a whole number of minor units, 0 or more.")
    return value


def _ref(obj: dict, name: str, path: str) -> str | None:
    """An expandable reference: the id string, or the expanded object's id."""
    value = obj.get(name)
    if isinstance(value, dict):
        return event_text(value, "id", f"{path}.{name}")
    return event_text(obj, name, path)


def checked(event: dict) -> dict:
    """The event's `data.object`, once the event's id and type are strings of the right size.

    :raise BadEvent: naming the first field that is not.
    """
    event_text(event, "id", "event")
    if event.get("id") is None:
        raise BadEvent("event.id", "Missing.")
    if type(event.get("type")) is not str:
        raise BadEvent("event.type", "Expected a string.")
    data = event.get("data")
    if data is None:
        return {}
    if type(data) is not dict:
        raise BadEvent("event.data", "Expected an object.")
    obj = data.get("object")
    if obj is None:
        return {}
    if type(obj) is not dict:
        raise BadEvent("event.data.object", "Expected an object.")
    return obj


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
    """Apply one verified event. Returns a payment id to settle after commit, if any.

    :raise BadEvent: a field the handler reads is not what the processor sends.
    """
    kind = event["type"]
    obj = checked(event)
    path = "data.object"
    if kind in _registered:
        _registered[kind](session, obj, str(event["id"]))
        return None
    match kind:
        case "payment_intent.succeeded":
            payment = services.payment_by_intent(session, event_text(obj, "id", path) or "")
            if payment is None:
                return None  # not ours
            charge_id = _ref(obj, "latest_charge", path)
            # The payment's time is when we learn of it, to the microsecond: consent is decided
            # as of then, and Stripe's `created` (whole seconds) would let a decision recorded
            # in the same second land after the payment it preceded.
            services.mark_succeeded(session, payment, charge_id=charge_id, at=utcnow())
            return payment.id
        case "payment_intent.payment_failed":
            payment = services.payment_by_intent(session, event_text(obj, "id", path) or "")
            if payment is not None and payment.status in (PaymentStatus.REQUIRES_PAYMENT,
                                                          PaymentStatus.PROCESSING):
                error = obj.get("last_payment_error")
                message = error.get("message") if isinstance(error, dict) else None
                payment.status = "failed"
                payment.failure_message = (message if isinstance(message, str) and message.strip()
                                           else "The card was declined.")[:500].replace("\x00", "")
            return None
        case "charge.refunded":
            amount_refunded = event_amount(obj, "amount_refunded", path)
            payment = _payment_of_charge(session, obj)
            if payment is not None:
                charge_id = event_text(obj, "id", path)
                if charge_id and not payment.charge_id:
                    payment.charge_id = charge_id
                services.record_refunded_total(session, payment, amount_refunded, key=f"event:{event['id']}")
            return None
        case "charge.dispute.created" | "charge.dispute.updated" | "charge.dispute.closed":
            amount = event_amount(obj, "amount", path)
            dispute_id = event_text(obj, "id", path)
            status = event_text(obj, "status", path, longest=32) or "needs_response"
            payment = _payment_of_charge(session, obj, charge_field="charge")
            if payment is not None:
                if dispute_id is None:
                    raise BadEvent(f"{path}.id", "Missing.")
                services.record_dispute(session, payment, dispute_id, amount, status,
                                        key=f"event:{event['id']}")
            return None
    return None


def _payment_of_charge(session: Session, obj: dict, charge_field: str = "id"):
    from sqlalchemy import select

    from marketplace.payments.models import Payment

    intent = _ref(obj, "payment_intent", "data.object")
    if intent:
        payment = services.payment_by_intent(session, intent)
        if payment is not None:
            return payment
    charge_id = _ref(obj, charge_field, "data.object")
    if charge_id:
        return session.scalar(select(Payment).where(Payment.charge_id == charge_id))
    return None
