"""Who a caller is as a payee, and which payables are theirs."""
from __future__ import annotations

from sqlalchemy.orm import Session

from marketplace.accounts.auth import Principal
from marketplace.catalog.contributors import identity_ids
from marketplace.payouts.accounts import Payee


def payee_of(principal: Principal) -> Payee:
    """A contributor account or a platform (callers have checked the kind)."""
    if principal.kind == "contributor":
        return Payee(user_id=principal.user.id)
    return Payee(organization_id=principal.organization.id)


def payables_of(session: Session, payee: Payee) -> list[tuple[str, int]]:
    """The payable ledger accounts paid to `payee`: one per claimed identity, or the platform's."""
    if payee.user_id is not None:
        return [("contributor_payable", contributor_id) for contributor_id in identity_ids(session, payee.user_id)]
    return [("platform_payable", payee.organization_id)]
