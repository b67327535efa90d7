"""Web pages: who may open a page, and the check of forms that carry nothing but a CSRF token.

Views call these first; each aborts with the status and message the error page shows.
(The JSON API has its own: `require_api` in accounts.auth.)
"""
from __future__ import annotations

from flask import abort
from flask_login import current_user

from marketplace.accounts.forms import EmptyForm
from marketplace.accounts.models import Organization


def csrf_ok() -> None:
    """:abort 400: the form's CSRF token is missing, wrong or from an old session."""
    if not EmptyForm().validate_on_submit():
        abort(400, "The form expired; reload the page and try again.")


def contributor_only() -> None:
    """:abort 403: the logged-in account is not a contributor's."""
    if current_user.role != "contributor":
        abort(403, "This page is for contributors: claim your identity with the code your platform gave you.")


def platform_organization(message: str = "These pages are for platform accounts.") -> Organization:
    """The logged-in operator's platform. :abort 403: not a platform account."""
    organization = current_user.organization
    if organization is None or not organization.is_platform:
        abort(403, message)
    return organization


def buyer_organization() -> Organization:
    """The logged-in member's buyer organization. :abort 403: not a buyer account."""
    organization = current_user.organization
    if organization is None or organization.kind != "buyer":
        abort(403, "Licensing is for buyer accounts: sign up as a buyer to license datasets.")
    return organization


def admin_only() -> None:
    """:abort 403: the logged-in account is not a marketplace admin's."""
    if current_user.role != "admin":
        abort(403, "These pages are for marketplace admins.")
