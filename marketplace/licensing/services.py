"""Licensing: buy (a pending license and its payment), activate on payment, expire, renew.

Services flush and never commit. Statuses the clock changes (unpaid past the
deadline, term over) are computed on read (`effective_status`) and saved by the
expiry job (`expire_due`) or by the next write that needs them (`refresh_status`).
"""
from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.accounts.models import Organization, User
from marketplace.catalog.models import Dataset, DatasetVersion, Offer
from marketplace.catalog.offers import check_chargeable, quote
from marketplace.db import utcnow
from marketplace.errors import Conflict, Forbidden, Invalid, NotFound
from marketplace.ledger.posting import request_hash
from marketplace.licensing import reservations, states
from marketplace.licensing.models import License, LicenseStatus, LicenseVersion
from marketplace.licensing.terms import terms_for, terms_sha256
from marketplace.payments import services as payments
from marketplace.payments.models import Payment, PaymentPurpose

PAY_WITHIN = timedelta(minutes=30)
#: Statuses that hold an exclusive offer's scopes and territory.
HOLDING = (LicenseStatus.PENDING_PAYMENT, LicenseStatus.ACTIVE)


def add_months(moment: datetime, months: int) -> datetime:
    month = moment.month - 1 + months
    year, month = moment.year + month // 12, month % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def overlaps(a: list[str], b: list[str]) -> bool:
    return "*" in a or "*" in b or bool(set(a) & set(b))


def buyer_license(session: Session, buyer_id: int, license_id: int) -> License:
    """:raise NotFound: unknown, or another buyer's license."""
    license = session.get(License, license_id)
    if license is None or license.buyer_id != buyer_id:
        raise NotFound(f"No license {license_id}.")
    return license


def any_license(session: Session, license_id: int) -> License:
    """For admins. :raise NotFound: no such license."""
    license = session.get(License, license_id)
    if license is None:
        raise NotFound(f"No license {license_id}.")
    return license


def effective_status(license: License, now: datetime | None = None) -> LicenseStatus:
    """The status as the clock makes it now: unpaid past its deadline → canceled; past its
    period → expired. Reads show this; `refresh_status` and the expiry job save it."""
    now = now or utcnow()
    if (license.status == LicenseStatus.PENDING_PAYMENT and license.pay_by <= now
            and not card_accepted_in_time(license)):
        return LicenseStatus.CANCELED
    if (license.status == LicenseStatus.ACTIVE and license.period_end is not None
            and license.period_end <= now):
        return LicenseStatus.EXPIRED
    return LicenseStatus(license.status)


def card_accepted_in_time(license: License) -> bool:
    """The buyer's card was accepted on the pay page before the deadline: the license waits for
    the processor's confirmation instead of being canceled (and the payment refunded)."""
    return any(p.confirmed_at is not None and p.confirmed_at <= license.pay_by for p in license.payments)


def refresh_status(session: Session, license: License, now: datetime | None = None) -> License:
    """Save what the clock changed (see `effective_status`), before a write that depends on it."""
    now = now or utcnow()
    status = effective_status(license, now)
    if status == LicenseStatus.CANCELED and license.status != status:
        states.move(session, license, status, "unpaid after 30 minutes")
    elif status == LicenseStatus.EXPIRED and license.status != status:
        states.move(session, license, status, "term ended")
    return license


def expire_due(session: Session, now: datetime | None = None) -> int:
    """Cancel overdue pending licenses and expire ended ones; returns how many changed."""
    now = now or utcnow()
    due = session.scalars(
        select(License).where(
            ((License.status == "pending_payment") & (License.pay_by <= now))
            | ((License.status == "active") & (License.period_end <= now))
        )
    ).all()
    changed = 0
    for license in due:
        before = license.status
        changed += refresh_status(session, license, now).status != before
    return changed


def exclusive_conflict(session: Session, offer: Offer, *, exclude_license_id: int | None = None,
                       now: datetime | None = None) -> License | None:
    """A license that holds what `offer` would grant: an exclusive one overlapping it, or any
    overlapping one when `offer` itself is exclusive."""
    now = now or utcnow()
    holders = session.scalars(
        select(License).join(Offer, Offer.id == License.offer_id).where(
            License.dataset_id == offer.dataset_id,
            License.status.in_(HOLDING),
            License.id != (exclude_license_id or -1),
        )
    ).all()
    for holder in holders:
        if effective_status(holder, now) not in HOLDING:
            continue
        if not (offer.exclusive or holder.terms["exclusive"]):
            continue
        if overlaps(offer.scopes, holder.terms["scopes"]) and overlaps(offer.territory, holder.terms["territory"]):
            return holder
    return None


def create_license(session: Session, *, buyer: Organization, user: User, offer_id: int,
                   idempotency_key: str | None = None, now: datetime | None = None) -> tuple[License, bool]:
    """Accept an offer's terms: a pending license priced on the latest version.

    Returns (license, created): with a known `idempotency_key` and the same offer,
    the license made the first time (created False).
    :raise NotFound: unknown, unpublished or retired offer.
    :raise Forbidden: not a buyer organization, or the seller itself.
    :raise Conflict: key reused for another offer; an exclusive license holds the offer; the
        buyer has too many licenses waiting for payment, or let this exclusive offer's reservation
        lapse too recently (reservations.ReservationRefused).
    :raise Conflict: the offer's price on the latest version is above what the processor takes.
    """
    now = now or utcnow()
    digest = request_hash({"offer_id": offer_id})
    if idempotency_key:
        existing = session.scalar(select(License).where(
            License.buyer_id == buyer.id, License.idempotency_key == idempotency_key))
        if existing is not None:
            if existing.request_hash != digest:
                raise Conflict("This Idempotency-Key was used for another request.",
                               {"json": {"Idempotency-Key": ["Already used for another offer."]}})
            return existing, False
    offer = session.get(Offer, offer_id)
    if offer is None or offer.dataset.status != "published":
        raise NotFound(f"No offer {offer_id} in the catalog.")
    if offer.dataset.platform_id == buyer.id:
        raise Forbidden("A platform can't license its own dataset.")
    if buyer.kind != "buyer":
        raise Forbidden("Only buyer organizations license datasets.")
    if offer.retired_at is not None:
        raise Conflict("This offer is retired: it takes no new licenses.")
    # Serialize the buyer's checkouts (its cap on pending licenses counts across datasets), then
    # licensing per dataset so two buyers can't both take an exclusive offer, and one buyer's two
    # checkouts at once find the same pending license (the look-ups after the locks).
    session.scalar(select(Organization.id).where(Organization.id == buyer.id).with_for_update(key_share=True))
    session.scalar(select(Dataset.id).where(Dataset.id == offer.dataset_id).with_for_update())
    pending = open_license_for(session, buyer.id, offer_id, now)
    if pending is not None:
        return pending, False
    config = current_app.config
    reservations.check_cooldown(session, buyer.id, offer, now, config["EXCLUSIVE_RESERVATION_COOLDOWN_HOURS"])
    holder = exclusive_conflict(session, offer, now=now)
    if holder is not None:
        what = "an exclusive license" if holder.terms["exclusive"] else "a license"
        raise Conflict(f"{what.capitalize()} already holds these uses in this territory "
                       f"until it ends; this offer can't be licensed now.")
    reservations.check_pending_cap(session, buyer.id, now, config["MAX_PENDING_LICENSES"])
    version = offer.dataset.latest_version
    price = quote(offer, version)
    check_chargeable(price)
    terms = terms_for(offer, version, price)
    license = License(
        buyer_id=buyer.id, offer_id=offer.id, dataset_id=offer.dataset_id, terms=terms,
        terms_sha256=terms_sha256(terms), accepted_by=user.id, accepted_at=now,
        price_amount=price.amount, currency=price.currency, pay_by=now + PAY_WITHIN,
        idempotency_key=idempotency_key, request_hash=digest if idempotency_key else None,
    )
    session.add(license)
    states.move(session, license, "pending_payment", f"terms accepted by {user.email}", user.id)
    session.flush()
    session.add(LicenseVersion(license_id=license.id, version_id=version.id, added_at=now))
    session.flush()
    return license, True


def open_license_for(session: Session, buyer_id: int, offer_id: int, now: datetime) -> License | None:
    """The buyer's pending license for this offer that can still be paid: accepting the same
    offer again reuses it instead of making a second license and PaymentIntent."""
    return session.scalar(
        select(License).where(License.buyer_id == buyer_id, License.offer_id == offer_id,
                              License.status == LicenseStatus.PENDING_PAYMENT, License.pay_by > now)
        .order_by(License.id.desc()).limit(1))


def buy(session: Session, *, buyer: Organization, user: User, offer_id: int,
        idempotency_key: str | None = None) -> License:
    """Accept an offer's terms and open its payment: the checkout page and the API alike.

    :raise NotFound: unknown or unpublished offer. :raise Forbidden: not a buyer, or the seller.
    :raise Conflict: retired offer; an exclusive license holds it; key reused for another offer.
    :raise ProcessorUnavailable: the processor failed (nothing is kept: the request rolls back).
    """
    license, created = create_license(session, buyer=buyer, user=user, offer_id=offer_id,
                                      idempotency_key=idempotency_key)
    if created:
        payments.start_payment(session, license_id=license.id, amount=license.price_amount,
                               currency=license.currency)
    return license


def offer_for_checkout(session: Session, offer_id: int) -> Offer:
    """The offer a buyer is about to accept, refused as `buy` would refuse it.

    :raise NotFound: unknown or unpublished. :raise Conflict: retired.
    """
    offer = session.get(Offer, offer_id)
    if offer is None or offer.dataset.status != "published":
        raise NotFound(f"No offer {offer_id} in the catalog.")
    if offer.retired_at is not None:
        raise Conflict("This offer is retired: it takes no new licenses.")
    return offer


def start_renewal(session: Session, license: License) -> Payment:
    """Open the renewal payment of an annual license. :raise Conflict: not renewable now."""
    refresh_status(session, license)
    if license.terms["billing"] != "annual" or license.status not in (LicenseStatus.ACTIVE,
                                                                      LicenseStatus.EXPIRED):
        raise Conflict("Only an annual license that is active or expired can be renewed.")
    if payments.open_payment(session, license.id) is not None or payments.unsettled_payment(session, license.id):
        raise Conflict("A renewal payment is already open or being confirmed for this license.")
    return payments.start_payment(session, license_id=license.id, amount=license.price_amount,
                                  currency=license.currency, purpose=PaymentPurpose.RENEWAL)


def pay_by_card(session: Session, license: License, token: str) -> Payment:
    """Confirm the license's open payment with the browser's card token.

    :raise Invalid: no token. :raise Conflict: nothing to pay. :raise ProcessorUnavailable.
    """
    if not token.strip():
        raise Invalid("The card could not be read; check its details and try again.",
                      {"card": ["The card could not be read."]})
    refresh_status(session, license)
    payment = payments.open_payment(session, license.id)
    if license.status not in (LicenseStatus.PENDING_PAYMENT, LicenseStatus.ACTIVE) or payment is None:
        raise Conflict(f"This license has nothing to pay (it is {license.status}).")
    return payments.confirm_card(session, payment, token.strip())


def cancel(session: Session, license: License, *, user: User) -> License:
    """The buyer gives up a license it has not paid for: pending → canceled, its open payments
    canceled, an exclusive offer it reserved free again.

    :raise Conflict: not pending any more (paid, or already canceled).
    """
    refresh_status(session, license)
    if license.status != LicenseStatus.PENDING_PAYMENT:
        raise Conflict(f"Only a license waiting for its payment can be canceled; this one is {license.status}.")
    if any(p.status == "processing" for p in payments.license_payments(session, license.id)):
        raise Conflict("The card was accepted and the payment is being confirmed: it can't be canceled now.")
    states.move(session, license, LicenseStatus.CANCELED, f"canceled by {user.email}", user.id)
    payments.cancel_open_payments(session, license.id)
    session.flush()
    return license


def activate(session: Session, license: License, *, paid_at: datetime, reason: str) -> License:
    """Start the license's period at payment (first payment)."""
    license.period_start = paid_at
    license.period_end = add_months(paid_at, license.terms["term_months"])
    states.move(session, license, "active", reason)
    session.flush()
    return license


def renew(session: Session, license: License, *, paid_at: datetime) -> list[int]:
    """Extend an annual license by a term and cover every version that exists now.

    :return: the ids of the versions the renewal payment is allocated over.
    """
    start = max(license.period_end or paid_at, paid_at)
    license.period_end = add_months(start, license.terms["term_months"])
    if license.status != "active":
        states.move(session, license, "active", "renewal paid")
    covered = {row.version_id for row in license.version_rows}
    version_ids = list(session.scalars(
        select(DatasetVersion.id).where(DatasetVersion.dataset_id == license.dataset_id)
        .order_by(DatasetVersion.id)))
    for version_id in version_ids:
        if version_id not in covered:
            session.add(LicenseVersion(license_id=license.id, version_id=version_id, added_at=paid_at))
    session.flush()
    session.expire(license, ["version_rows"])
    return version_ids


def buyer_licenses_statement(buyer_id: int):
    """The buyer's licenses, newest first (a statement to page through)."""
    return select(License).where(License.buyer_id == buyer_id).order_by(License.id.desc())


def licenses_of_buyer(session: Session, buyer_id: int) -> list[License]:
    return list(session.scalars(buyer_licenses_statement(buyer_id)))


def platform_sale(session: Session, platform_id: int, license_id: int) -> License:
    """One license sold on the platform's dataset. :raise NotFound: unknown, or another platform's sale."""
    license = session.get(License, license_id)
    if license is None or license.dataset.platform_id != platform_id:
        raise NotFound(f"No sale {license_id} of yours.")
    return license


def sales_of_platform(session: Session, platform_id: int) -> list[License]:
    return list(session.scalars(
        select(License).join(Dataset, Dataset.id == License.dataset_id)
        .where(Dataset.platform_id == platform_id, License.status != "canceled")
        .order_by(License.id.desc())))


def recent_licenses(session: Session, limit: int = 200) -> list[License]:
    """For the admin's list: the newest licenses that got past checkout (canceled ones left out)."""
    return list(session.scalars(select(License).where(License.status != LicenseStatus.CANCELED)
                                .order_by(License.id.desc()).limit(limit)))
