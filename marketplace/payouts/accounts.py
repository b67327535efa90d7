"""Payout accounts: where a contributor account or a platform is paid.

A contributor account's one payout account receives the payouts of every
identity it claimed (one payout per identity's payable, see models.py); a
platform's receives its `platform_payable`. Until an account is ready, earnings
accrue on the payables and are paid by the first run after it is.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from marketplace.errors import invalid_field
from marketplace.payments.gateway import PaymentGateway
from marketplace.payouts.models import AccountStatus, PayoutAccount, Provider


@dataclass(frozen=True)
class Payee:
    """Who is asking: a contributor account (`user_id`) or a platform (`organization_id`)."""

    user_id: int | None = None
    organization_id: int | None = None

    @property
    def key(self) -> str:
        return f"user:{self.user_id}" if self.user_id is not None else f"organization:{self.organization_id}"


@dataclass(frozen=True)
class AccountState:
    account: PayoutAccount
    #: Stripe onboarding link, when the account still needs onboarding.
    onboarding_url: str | None = None


def account_of(session: Session, payee: Payee) -> PayoutAccount | None:
    """The payee's payout account, if they set one up."""
    if payee.user_id is not None:
        return session.scalar(select(PayoutAccount).where(PayoutAccount.user_id == payee.user_id))
    return session.scalar(select(PayoutAccount).where(PayoutAccount.organization_id == payee.organization_id))


def _account_for_update(session: Session, payee: Payee) -> PayoutAccount:
    account = account_of(session, payee)
    if account is None:
        account = PayoutAccount(user_id=payee.user_id, organization_id=payee.organization_id,
                                provider=Provider.BATCH, status=AccountStatus.ONBOARDING,
                                stripe_payouts_enabled=False)
        session.add(account)
    return account


def set_batch_account(session: Session, payee: Payee, email: str) -> AccountState:
    """Pay `payee` through the batch file, to `email`: ready at once.

    :raise Invalid: `email` is not an e-mail address (names the field).
    """
    email = (email or "").strip().lower()
    if "@" not in email or len(email) > 254 or " " in email or email.startswith("@") or email.endswith("@"):
        raise invalid_field("email", "Not a valid e-mail address.")
    account = _account_for_update(session, payee)
    account.provider, account.email, account.status = Provider.BATCH, email, AccountStatus.READY
    session.flush()
    return AccountState(account)


def set_stripe_account(session: Session, payee: Payee, gateway: PaymentGateway, *, email: str | None,
                       return_url: str) -> AccountState:
    """Pay `payee` by Stripe Connect Express: the connected account is created once (keyed by the
    payee, so a retried request finds the same one) and a fresh onboarding link is returned
    until Stripe reports payouts_enabled (`account.updated`).

    :raise GatewayError: Stripe refused or failed (the request rolls back).
    """
    account = _account_for_update(session, payee)
    if account.stripe_account_id is None:
        account.stripe_account_id = gateway.create_connected_account(
            email=email, metadata={"payee": payee.key}, idempotency_key=f"payout_account:{payee.key}:stripe")
    account.provider = Provider.STRIPE
    account.status = AccountStatus.READY if account.stripe_payouts_enabled else AccountStatus.ONBOARDING
    session.flush()
    url = None
    if account.status == AccountStatus.ONBOARDING:
        url = gateway.create_account_link(account.stripe_account_id, refresh_url=return_url, return_url=return_url)
    return AccountState(account, url)


def stripe_account_updated(session: Session, stripe_account_id: str, *, payouts_enabled: bool) -> bool:
    """Apply Stripe's `account.updated`: a stripe account becomes ready (or not) for payouts.

    Returns False when the account is not one of ours. Raises nothing.
    """
    account = session.scalar(select(PayoutAccount).where(PayoutAccount.stripe_account_id == stripe_account_id))
    if account is None:
        return False
    account.stripe_payouts_enabled = payouts_enabled
    if account.provider == Provider.STRIPE:
        account.status = AccountStatus.READY if payouts_enabled else AccountStatus.ONBOARDING
    session.flush()
    return True
