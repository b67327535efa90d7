"""Stripe Connect's events for payouts, applied through the payments webhook (registered in create_app)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.payments import webhooks
from marketplace.payouts import accounts, outcomes


def account_updated(session: Session, account: dict, _event_id: str) -> None:
    """`account.updated`: a connected account is ready once Stripe says payouts_enabled."""
    account_id = webhooks.event_text(account, "id", "data.object")
    if account_id:
        accounts.stripe_account_updated(session, account_id, payouts_enabled=account.get("payouts_enabled") is True)


def transfer_reversed(session: Session, transfer: dict, _event_id: str) -> None:
    """`transfer.reversed`: a transfer reversed in full returns its payout's amount to the payable.
    (A partial reversal changes nothing here; reconciliation shows it as an amount mismatch.)"""
    amount = webhooks.event_amount(transfer, "amount", "data.object")
    reversed_amount = webhooks.event_amount(transfer, "amount_reversed", "data.object")
    transfer_id = webhooks.event_text(transfer, "id", "data.object")
    if transfer_id and amount and reversed_amount >= amount:
        outcomes.mark_reversed(session, transfer_id, "Reversed by Stripe.")


def register() -> None:
    webhooks.register("account.updated", account_updated)
    webhooks.register("transfer.reversed", transfer_reversed)
