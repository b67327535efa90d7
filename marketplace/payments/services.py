"""Payments: intents, settling a succeeded payment once, refunds and disputes.

A succeeded PaymentIntent is settled once, whatever events or retries carry it
(the allocation's unique payment key): payments locks the payment and hands it
to the registered `settlement.Settlement` (licensing activates the license in
the same transaction that allocates the payment). Refunds and disputes bring
every share to the money rules' value for gross − (refunded + disputed), so
their order and repeats don't matter. Nothing here imports licensing.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from flask import current_app
from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from marketplace.allocation.models import Allocation
from marketplace.allocation.reversal import refunded_so_far, reverse_to
from marketplace.db import utcnow
from marketplace.errors import Conflict, DomainError, Invalid
from marketplace.ledger import posting
from marketplace.ledger.models import MARKETPLACE
from marketplace.payments import settlement
from marketplace.payments.gateway import GatewayError, PaymentGateway, StripeGateway
from marketplace.payments.models import Dispute, Payment, PaymentPurpose, PaymentStatus, Refund


class ProcessorUnavailable(DomainError):
    code = 502


def build_gateway(config) -> PaymentGateway:
    """The app's gateway, built once in create_app (tests put localstripe's or a fake in its place)."""
    return StripeGateway(config["STRIPE_SECRET_KEY"], config["STRIPE_API_BASE"])


def gateway() -> PaymentGateway:
    return current_app.extensions["payment_gateway"]


@contextmanager
def processor_call(what: str) -> Iterator[None]:
    """Every call to the processor: its refusal or failure becomes a 502 that names `what`
    (the request then rolls back: nothing is written)."""
    try:
        yield
    except GatewayError as error:
        raise ProcessorUnavailable(f"The payment processor {what}: {error}") from error


def payment_key(payment: Payment) -> str:
    return f"payment:{payment.payment_intent_id}"


def start_payment(session: Session, *, license_id: int, amount: int, currency: str,
                  purpose: PaymentPurpose = PaymentPurpose.INITIAL) -> Payment:
    """Create a PaymentIntent for a license (unconfirmed, no payment method, automatic capture).

    :raise ProcessorUnavailable: the processor refused or failed.
    """
    attempt = len(license_payments(session, license_id)) + 1
    with processor_call("is unavailable"):
        intent = gateway().create_intent(
            amount=amount, currency=currency,
            metadata={"license_id": str(license_id), "purpose": str(purpose)},
            idempotency_key=f"license:{license_id}:{purpose}:{attempt}",
        )
    payment = Payment(license_id=license_id, payment_intent_id=intent.id, client_secret=intent.client_secret,
                      amount=amount, currency=currency, purpose=purpose)
    session.add(payment)
    session.flush()
    return payment


def license_payments(session: Session, license_id: int) -> list[Payment]:
    return list(session.scalars(select(Payment).where(Payment.license_id == license_id).order_by(Payment.id)))


def open_payment(session: Session, license_id: int) -> Payment | None:
    """The license's payment still waiting for a card (or for another one, after a decline)."""
    for payment in reversed(license_payments(session, license_id)):
        if payment.status in (PaymentStatus.REQUIRES_PAYMENT, PaymentStatus.FAILED):
            return payment
    return None


def unsettled_payment(session: Session, license_id: int) -> Payment | None:
    """A payment of the license whose card was accepted (processing) or that succeeded but is not
    allocated yet: a new payment now could take the money twice."""
    for payment in license_payments(session, license_id):
        if payment.status == PaymentStatus.PROCESSING or (
                payment.status == PaymentStatus.SUCCEEDED and allocation_of(session, payment) is None
                and payment.refunded_amount < payment.amount):
            return payment
    return None


def stranded_payment_ids(session: Session) -> list[int]:
    """Succeeded payments neither allocated nor given back: their settlement job was lost (a worker
    killed while it ran, a queue that dropped it). Oldest first."""
    allocated = select(Allocation.id).where(
        Allocation.payment_key == literal("payment:") + Payment.payment_intent_id).exists()
    return list(session.scalars(
        select(Payment.id).where(Payment.status == PaymentStatus.SUCCEEDED,
                                 Payment.refunded_amount < Payment.amount, ~allocated)
        .order_by(Payment.id)))


def confirm_card(session: Session, payment: Payment, token: str) -> Payment:
    """Attach the browser's card token to the open intent and confirm it.

    What the payment pays for changes when the processor's `payment_intent.succeeded`
    arrives (webhook), not here. :raise ProcessorUnavailable: the processor failed.
    """
    with processor_call("is unavailable"):
        confirmed = gateway().confirm_with_card_token(
            payment.payment_intent_id, token, idempotency_key=f"confirm:{payment.payment_intent_id}:{token}")
    if confirmed.failure_message:
        payment.status = PaymentStatus.FAILED
        payment.failure_message = confirmed.failure_message
    elif payment.status != PaymentStatus.SUCCEEDED:  # the webhook may have come first
        payment.status = PaymentStatus.PROCESSING
        payment.failure_message = None
    if not confirmed.failure_message and payment.confirmed_at is None:
        payment.confirmed_at = utcnow()
    session.flush()
    return payment


def cancel_open_payments(session: Session, license_id: int) -> None:
    """Nothing more will be taken for the license: its open payments are canceled (a card that
    still succeeds at the processor is refunded automatically when its event arrives)."""
    for payment in license_payments(session, license_id):
        if payment.status in (PaymentStatus.REQUIRES_PAYMENT, PaymentStatus.FAILED):
            payment.status = PaymentStatus.CANCELED
    session.flush()


def payment_by_intent(session: Session, intent_id: str) -> Payment | None:
    return session.scalar(select(Payment).where(Payment.payment_intent_id == intent_id))


def mark_succeeded(session: Session, payment: Payment, *, charge_id: str | None, at: datetime) -> None:
    if payment.status != "succeeded":
        payment.status = "succeeded"
        payment.succeeded_at = at
    if charge_id and not payment.charge_id:
        payment.charge_id = charge_id
    session.flush()


def settle(session: Session, payment_id: int) -> None:
    """Hand a succeeded payment to the registered settlement, once (a second call finds its allocation)."""
    payment = session.get(Payment, payment_id)
    if payment is None or payment.status != PaymentStatus.SUCCEEDED:
        return
    # Twin settlements of one payment queue here; the second then finds the allocation.
    posting.lock_for_writing(session, [payment_key(payment)])
    if allocation_of(session, payment) is not None:
        return
    # A refund or dispute event committed meanwhile found no allocation to reverse and left it to
    # this settlement: read its totals fresh (and hold later events until this one commits).
    lock_totals(session, payment)
    settlement.registered().settle(session, payment)


def allocation_of(session: Session, payment: Payment) -> Allocation | None:
    return session.scalar(select(Allocation).where(Allocation.payment_key == payment_key(payment)))


def refund_unhonoured(session: Session, payment: Payment, why: str) -> None:
    """Give back a payment we can't honour, and book it in and out of the ledger.

    :raise ProcessorUnavailable: the processor refused the refund (nothing is booked).
    """
    remaining = payment.amount - payment.refunded_amount
    if remaining > 0:
        with processor_call("refused the refund"):
            refund = gateway().refund(payment_intent_id=payment.payment_intent_id, amount=remaining,
                                      idempotency_key=f"unhonoured:{payment.payment_intent_id}",
                                      metadata={"reason": why[:200]})
        session.add(Refund(payment_id=payment.id, refund_id=refund.id, amount=refund.amount,
                           reason=f"automatic: {why}"))
        payment.refunded_amount = payment.amount
    posting.post_transaction(
        session, key=f"unhonoured:{payment.payment_intent_id}", kind="unhonoured_payment",
        currency=payment.currency, memo={"why": why, "license_id": payment.license_id},
        entries=[("payment_clearing", MARKETPLACE, -payment.amount),
                 ("refunds_disputes", MARKETPLACE, payment.amount)],
    )
    session.flush()


def held_back(payment: Payment) -> int:
    """What the shares must not include: refunds plus open disputes, at most the payment."""
    return min(payment.amount, payment.refunded_amount + payment.disputed_amount)


def apply_reversals(session: Session, payment: Payment, *, key: str) -> None:
    """Bring the payment's shares to the rule for gross − held back; update the license status."""
    allocation = allocation_of(session, payment)
    if allocation is None:
        return  # not settled yet: the settlement applies what is held back when it runs
    if refunded_so_far(session, allocation) == held_back(payment):
        return  # an event repeating facts already applied posts nothing, not an empty reversal
    reverse_to(session, allocation, held_back(payment), key=key)
    settlement.registered().money_returned(session, payment, in_full=held_back(payment) >= payment.amount)
    session.flush()


def lock_totals(session: Session, payment: Payment) -> None:
    """Wait for any other writer of the payment's refunded and disputed totals, then read them
    fresh. Two events at once (PostgreSQL) would otherwise each compare with the total read before
    the other committed, and the one with the smaller total, written last, would take it back down."""
    session.flush()
    session.refresh(payment, with_for_update=True)


def record_refunded_total(session: Session, payment: Payment, amount_refunded: int, *, key: str) -> None:
    """The processor's cumulative refunded amount: the highest seen wins."""
    lock_totals(session, payment)
    if amount_refunded > payment.refunded_amount:
        payment.refunded_amount = min(amount_refunded, payment.amount)
    apply_reversals(session, payment, key=key)


def admin_refund(session: Session, license_id: int, amount: int, *, admin_id: int) -> Refund:
    """Refund part of the license's latest succeeded payment through the processor, and reverse.

    :raise Invalid: amount not positive or above what is left. :raise Conflict: nothing paid.
    :raise ProcessorUnavailable: the processor refused the refund (nothing is written).
    """
    paid = succeeded_payments(session, license_id)
    if not paid:
        raise Conflict("This license has no payment to refund.")
    payment = paid[-1]
    # Two refunds at once must not both read the same total and the same refund number (the
    # processor's idempotency key): the second waits, then reads the first's.
    lock_totals(session, payment)
    remaining = payment.amount - payment.refunded_amount
    if not 0 < amount <= remaining:
        raise Invalid(f"Refund between 1 and {remaining} (what is left of the payment).",
                      {"amount": [f"Must be between 1 and {remaining}."]})
    number = len(session.scalars(select(Refund.id).where(Refund.payment_id == payment.id)).all()) + 1
    with processor_call("refused the refund"):
        created = gateway().refund(payment_intent_id=payment.payment_intent_id, amount=amount,
                                   idempotency_key=f"admin-refund:{payment.payment_intent_id}:{number}",
                                   metadata={"license_id": str(license_id)})
    refund = Refund(payment_id=payment.id, refund_id=created.id, amount=created.amount,
                    reason="admin", requested_by=admin_id)
    session.add(refund)
    record_refunded_total(session, payment, payment.refunded_amount + created.amount,
                          key=f"refund:{created.id}")
    return refund


def record_dispute(session: Session, payment: Payment, dispute_id: str, amount: int, status: str,
                   *, key: str) -> None:
    """A dispute holds its amount back from when it opens until it is won (SPEC.md)."""
    lock_totals(session, payment)
    dispute = session.scalar(select(Dispute).where(Dispute.dispute_id == dispute_id))
    if dispute is None:
        dispute = Dispute(payment_id=payment.id, dispute_id=dispute_id, amount=amount, status=status)
        session.add(dispute)
    elif dispute.status in ("won", "lost"):
        return  # closed disputes don't reopen; a late "created" changes nothing
    else:
        dispute.status = status
    session.flush()
    open_total = sum(d.amount for d in session.scalars(select(Dispute).where(Dispute.payment_id == payment.id))
                     if d.status not in ("won", "lost"))
    lost_total = sum(d.amount for d in session.scalars(select(Dispute).where(Dispute.payment_id == payment.id))
                     if d.status == "lost")
    # A lost dispute keeps the money away for good, like a refund.
    payment.disputed_amount = open_total + lost_total
    apply_reversals(session, payment, key=key)


def succeeded_payments(session: Session, license_id: int) -> list[Payment]:
    return [p for p in license_payments(session, license_id) if p.status == PaymentStatus.SUCCEEDED]
