"""Payout tests' helpers: payables made through the allocation service, payees with accounts."""
from __future__ import annotations

from sqlalchemy import func, select, text

from marketplace.accounts import services as accounts
from marketplace.contributors.identities import link
from marketplace.extensions import db
from marketplace.ledger.check import run_check
from marketplace.payouts.accounts import Payee, set_batch_account
from marketplace.payouts.models import Payout
from tests.ledger import helpers as ledger


def person_with(made, external_id: str, email: str | None = None):
    """A contributor account that claimed `external_id` of `made`'s platform; returns the User."""
    user = accounts.create_user(db.session, email or f"{ledger.unique('payee')}@example.test",
                                "long enough password", role="contributor")
    link(db.session, ledger.contributor(made, external_id), user)
    return user


def batch_account_for(user=None, organization=None, email: str | None = None):
    payee = Payee(user_id=user.id) if user is not None else Payee(organization_id=organization.id)
    return set_batch_account(db.session, payee, email or f"{ledger.unique('paypal')}@example.test").account


def payable(account: str, owner_id: int) -> int:
    return int(db.session.execute(text(
        "SELECT COALESCE(SUM(amount), 0) FROM ledger_entries WHERE account = :a AND owner_id = :o"),
        {"a": account, "o": owner_id}).scalar())


def kind_total(account: str) -> int:
    return int(db.session.execute(text(
        "SELECT COALESCE(SUM(amount), 0) FROM ledger_entries WHERE account = :a"), {"a": account}).scalar())


def payouts() -> list[Payout]:
    return list(db.session.scalars(select(Payout).order_by(Payout.id)))


def payouts_per_payable() -> dict[tuple[str, int], int]:
    return {(account, owner): count for account, owner, count in db.session.execute(
        select(Payout.account, Payout.owner_id, func.count()).group_by(Payout.account, Payout.owner_id))}


def ledger_balanced() -> bool:
    result = run_check(db.session)
    assert result.balanced, result.violations
    return True
