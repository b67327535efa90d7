"""Payments: intents for licenses, settling a succeeded payment, refunds and disputes.

A succeeded PaymentIntent is settled once: the license turns active in the
same transaction that allocates the payment (allocation.services), whatever
events or retries carry it (the allocation's unique payment key). Refunds and
disputes bring every share to the money rules' value for gross − (refunded +
disputed), so their order and repeats don't matter.
"""
from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.db import utcnow  # noqa: F401  (webhooks use it through here)
from marketplace.errors import Conflict, DomainError, Invalid
from marketplace.ledger import posting
from marketplace.allocation.services import PaymentFacts, allocate_payment
from marketplace.allocation.reversal import reverse_to
from marketplace.allocation.models import Allocation
from marketplace.ledger.models import MARKETPLACE
from marketplace.licensing import services as licensing
from marketplace.licensing import states
from marketplace.licensing.models import License
from marketplace.payments.gateway import GatewayError, PaymentGateway, StripeGateway
from marketplace.payments.models import Dispute, Payment, Refund


class ProcessorUnavailable(DomainError):
    code = 502


def gateway() -> PaymentGateway:
    config = current_app.config
    return current_app.extensions.get("payment_gateway") or StripeGateway(
        config["STRIPE_SECRET_KEY"], config["STRIPE_API_BASE"])


def payment_key(payment: Payment) -> str:
    return f"payment:{payment.payment_intent_id}"


def start_payment(session: Session, license: License, purpose: str = "initial") -> Payment:
    """Create the license's PaymentIntent (unconfirmed, no payment method, automatic capture).

    :raise ProcessorUnavailable: the processor refused or failed.
    """
    attempt = len(license_payments(session, license.id)) + 1
    try:
        intent = gateway().create_intent(
            amount=license.price_amount, currency=license.currency,
            metadata={"license_id": str(license.id), "purpose": purpose},
            idempotency_key=f"license:{license.id}:{purpose}:{attempt}",
        )
    except GatewayError as error:
        raise ProcessorUnavailable(f"The payment processor is unavailable: {error}") from error
    payment = Payment(license_id=license.id, payment_intent_id=intent.id, client_secret=intent.client_secret,
                      amount=license.price_amount, currency=license.currency, purpose=purpose)
    session.add(payment)
    session.flush()
    return payment


def start_renewal(session: Session, license: License) -> Payment:
    """Open the renewal payment of an annual license. :raise Conflict: not renewable now."""
    licensing.refresh_status(session, license)
    if license.terms["billing"] != "annual" or license.status not in ("active", "expired"):
        raise Conflict("Only an annual license that is active or expired can be renewed.")
    if open_payment(session, license) is not None:
        raise Conflict("A renewal payment is already open for this license.")
    return start_payment(session, license, purpose="renewal")


def license_payments(session: Session, license_id: int) -> list[Payment]:
    return list(session.scalars(select(Payment).where(Payment.license_id == license_id).order_by(Payment.id)))


def open_payment(session: Session, license: License) -> Payment | None:
    for payment in reversed(license_payments(session, license.id)):
        if payment.status in ("requires_payment", "failed"):
            return payment
    return None


def confirm_card(session: Session, license: License, token: str) -> Payment:
    """Attach the browser's card token to the open intent and confirm it.

    The license turns active when the processor's `payment_intent.succeeded`
    arrives (webhook), not here. :raise Conflict: nothing to pay.
    """
    licensing.refresh_status(session, license)
    payment = open_payment(session, license)
    if license.status not in ("pending_payment", "active") or payment is None:
        raise Conflict(f"This license has nothing to pay (it is {license.status}).")
    try:
        confirmed = gateway().confirm_with_card_token(
            payment.payment_intent_id, token, idempotency_key=f"confirm:{payment.payment_intent_id}:{token}")
    except GatewayError as error:
        raise ProcessorUnavailable(f"The payment processor is unavailable: {error}") from error
    if confirmed.failure_message:
        payment.status = "failed"
        payment.failure_message = confirmed.failure_message
    session.flush()
    return payment


def payment_by_intent(session: Session, intent_id: str) -> Payment | None:
    return session.scalar(select(Payment).where(Payment.payment_intent_id == intent_id))


def mark_succeeded(session: Session, payment: Payment, *, charge_id: str | None, at: datetime) -> None:
    if payment.status != "succeeded":
        payment.status = "succeeded"
        payment.succeeded_at = at
    if charge_id and not payment.charge_id:
        payment.charge_id = charge_id
    session.flush()


def settle(session: Session, payment_id: int) -> Allocation | None:
    """Activate (or renew) the license and allocate the payment, once; or refund it.

    A payment for a canceled license, or one an exclusive license now
    conflicts with, is refunded in full instead. Returns the allocation.
    """
    payment = session.get(Payment, payment_id)
    if payment is None or payment.status != "succeeded":
        return None
    # Twin settlements of one payment queue here; the second then finds the allocation.
    posting.lock_for_writing(session, [payment_key(payment)])
    allocation = session.scalar(select(Allocation).where(Allocation.payment_key == payment_key(payment)))
    if allocation is not None:
        return allocation
    license = session.get(License, payment.license_id)
    licensing.refresh_status(session, license, payment.succeeded_at)
    if payment.purpose == "initial":
        holder = licensing.exclusive_conflict(session, license.offer, exclude_license_id=license.id,
                                              now=payment.succeeded_at)
        if license.status != "pending_payment" or holder is not None:
            why = "a conflicting license holds the offer" if holder else f"the license is {license.status}"
            _refund_unhonoured(session, payment, why)
            return None
        licensing.activate(session, license, paid_at=payment.succeeded_at,
                           reason=f"payment {payment.payment_intent_id} succeeded")
        version_ids = [row.version_id for row in license.version_rows]
    else:
        if license.status not in ("active", "expired"):
            _refund_unhonoured(session, payment, f"the license is {license.status}")
            return None
        version_ids = licensing.renew(session, license, paid_at=payment.succeeded_at)
    config = current_app.config
    allocation = allocate_payment(
        session,
        PaymentFacts(key=payment_key(payment), dataset_id=license.dataset_id,
                     version_ids=tuple(version_ids), scopes=tuple(license.terms["scopes"]),
                     gross=payment.amount, currency=payment.currency,
                     contributor_share_bps=license.terms["contributor_share_bps"],
                     paid_at=payment.succeeded_at, license_id=license.id),
        fee_bps=config["MARKETPLACE_FEE_BPS"], opt_in_regions=config["OPT_IN_REGIONS"],
    )
    # Refunds or disputes that arrived before the success event apply now.
    apply_reversals(session, payment, key=f"catch-up:{payment.payment_intent_id}")
    return allocation


def _refund_unhonoured(session: Session, payment: Payment, why: str) -> None:
    """Give back a payment we can't honour, and book it in and out of the ledger."""
    remaining = payment.amount - payment.refunded_amount
    if remaining > 0:
        try:
            refund = gateway().refund(payment_intent_id=payment.payment_intent_id, amount=remaining,
                                      idempotency_key=f"unhonoured:{payment.payment_intent_id}",
                                      metadata={"reason": why[:200]})
        except GatewayError as error:
            raise ProcessorUnavailable(f"The payment processor is unavailable: {error}") from error
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
    allocation = session.scalar(select(Allocation).where(Allocation.payment_key == payment_key(payment)))
    if allocation is None:
        return  # not settled yet: settle() applies what is held back when it runs
    reverse_to(session, allocation, held_back(payment), key=key)
    license = session.get(License, payment.license_id)
    fully_returned = held_back(payment) >= payment.amount
    if fully_returned and license.status == "active":
        states.move(session, license, "refunded", f"payment {payment.payment_intent_id} returned in full")
    elif not fully_returned and license.status == "refunded":
        states.move(session, license, "active", "money restored (dispute won)")
    session.flush()


def record_refunded_total(session: Session, payment: Payment, amount_refunded: int, *, key: str) -> None:
    """The processor's cumulative refunded amount: the highest seen wins."""
    if amount_refunded > payment.refunded_amount:
        payment.refunded_amount = min(amount_refunded, payment.amount)
    apply_reversals(session, payment, key=key)


def admin_refund(session: Session, license: License, amount: int, *, admin_id: int) -> Refund:
    """Refund part of the license's latest succeeded payment through the processor, and reverse.

    :raise Invalid: amount not positive or above what is left. :raise Conflict: nothing paid.
    """
    paid = [p for p in license_payments(session, license.id) if p.status == "succeeded"]
    if not paid:
        raise Conflict("This license has no payment to refund.")
    payment = paid[-1]
    remaining = payment.amount - payment.refunded_amount
    if not 0 < amount <= remaining:
        raise Invalid(f"Refund between 1 and {remaining} (what is left of the payment).",
                      {"amount": [f"Must be between 1 and {remaining}."]})
    number = len(session.scalars(select(Refund.id).where(Refund.payment_id == payment.id)).all()) + 1
    try:
        created = gateway().refund(payment_intent_id=payment.payment_intent_id, amount=amount,
                                   idempotency_key=f"admin-refund:{payment.payment_intent_id}:{number}",
                                   metadata={"license_id": str(license.id)})
    except GatewayError as error:
        raise ProcessorUnavailable(f"The payment processor refused the refund: {error}") from error
    refund = Refund(payment_id=payment.id, refund_id=created.id, amount=created.amount,
                    reason="admin", requested_by=admin_id)
    session.add(refund)
    record_refunded_total(session, payment, payment.refunded_amount + created.amount,
                          key=f"refund:{created.id}")
    return refund


def record_dispute(session: Session, payment: Payment, dispute_id: str, amount: int, status: str,
                   *, key: str) -> None:
    """A dispute holds its amount back from when it opens until it is won (SPEC.md)."""
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


def license_split(session: Session, license: License) -> dict | None:
    """How the license's payments were shared, net of refunds (None before any payment)."""
    from marketplace.allocation.reports import allocation_totals

    keys = [payment_key(p) for p in license_payments(session, license.id) if p.status == "succeeded"]
    allocations = session.scalars(select(Allocation).where(Allocation.payment_key.in_(keys))).all() if keys else []
    if not allocations:
        return None
    totals = allocation_totals(session, [a.id for a in allocations])
    paid = sum(a.gross for a in allocations)
    refunded = sum(held_back(p) for p in license_payments(session, license.id) if p.status == "succeeded")
    money = lambda amount: {"amount": amount, "currency": license.currency}  # noqa: E731
    return {
        "paid": money(paid), "refunded": money(refunded),
        "marketplace_fee": money(totals["marketplace_fees"]),
        "to_platform": money(totals["platform_payable"]),
        "to_contributors": money(totals["contributor_payable"]),
        "unallocated": money(totals["dataset_unallocated"]),
        "contributors_paid": totals["contributors_paid"],
    }

