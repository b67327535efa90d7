"""Stripe Connect's events for payouts, applied through the payments webhook (registered in create_app)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.payments import webhooks
from marketplace.payouts import accounts, outcomes


def account_updated(session: Session, account: dict, _event_id: str) -> None:
    """`account.updated`: a connected account is ready once Stripe says payouts_enabled."""
    if account.get("id"):
        accounts.stripe_account_updated(session, str(account["id"]),
                                        payouts_enabled=bool(account.get("payouts_enabled")))


def transfer_reversed(session: Session, transfer: dict, _event_id: str) -> None:
    """`transfer.reversed`: a transfer reversed in full returns its payout's amount to the payable.
    (A partial reversal changes nothing here; reconciliation shows it as an amount mismatch.)"""
    amount, reversed_amount = int(transfer.get("amount") or 0), int(transfer.get("amount_reversed") or 0)
    if transfer.get("id") and amount and reversed_amount >= amount:
        outcomes.mark_reversed(session, str(transfer["id"]), "Reversed by Stripe.")


def register() -> None:
    webhooks.register("account.updated", account_updated)
    webhooks.register("transfer.reversed", transfer_reversed)
