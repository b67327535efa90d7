"""JSON API: licenses (buyers) and refunds (admins)."""
from __future__ import annotations

from flask import request
from flask_smorest import Blueprint

from marketplace.accounts.auth import BEARER, api_principal, require_api
from marketplace.errors import invalid_header
from marketplace.extensions import db
from marketplace.licensing import services
from marketplace.licensing.presenters import license_view
from marketplace.licensing.schemas import (
    LicenseCreateSchema,
    LicenseListArgs,
    LicenseSchema,
    RefundCreatedSchema,
    RefundCreateSchema,
)
from marketplace.pagination import page_schema, paginate
from marketplace.payments import services as payments

blp = Blueprint("licensing_api", __name__, description="Licenses, payment and refunds")

MAX_IDEMPOTENCY_KEY = 200
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY},
    "description": "Same key and body → the same license (no second PaymentIntent). At most "
                   f"{MAX_IDEMPOTENCY_KEY} characters (a longer one is a 422); blank is no key.",
}


def idempotency_key() -> str | None:
    """The request's Idempotency-Key, stripped; None when blank. :raise Invalid: too long."""
    key = (request.headers.get("Idempotency-Key") or "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise invalid_header("Idempotency-Key", f"At most {MAX_IDEMPOTENCY_KEY} characters; this one has {len(key)}.")
    return key or None


@blp.route("/licenses", methods=["POST"])
@blp.doc(security=BEARER, parameters=[IDEMPOTENCY_HEADER])
@require_api("buyer", "platform")
@blp.arguments(LicenseCreateSchema)
@blp.response(201, LicenseSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Not a buyer, or the dataset's own platform.")
@blp.alt_response(404, description="No such offer in the catalog.")
@blp.alt_response(409, description="Exclusive offer taken, offer retired, or key reused for another offer; the "
                                   "buyer has too many licenses waiting for payment (pay or cancel one), or its "
                                   "reservation of this exclusive offer ended unpaid recently (`available_at` "
                                   "says from when it may reserve it again); the price on the latest version is "
                                   "above what the card processor takes in one payment.")
@blp.alt_response(422, description="A bad body (offer_id), or an Idempotency-Key over 200 characters (named).")
@blp.alt_response(502, description="The payment processor is unavailable; nothing was created.")
def create_license(body):
    """Accept an offer's terms: a pending license and an unconfirmed PaymentIntent."""
    principal = api_principal()
    key = idempotency_key()
    license = services.buy(db.session, buyer=principal.organization, user=principal.user,
                           offer_id=body["offer_id"], idempotency_key=key)
    return license_view(db.session, license)


@blp.route("/licenses", methods=["GET"])
@blp.doc(security=BEARER)
@require_api("buyer")
@blp.arguments(LicenseListArgs, location="query")
@blp.response(200, page_schema(LicenseSchema, "LicensePage"))
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Buyers only.")
def list_licenses(args):
    """The buyer's licenses, newest first."""
    statement = services.buyer_licenses_statement(api_principal().organization.id)
    rows, total = paginate(db.session, statement, args["page"], args["per_page"])
    items = [license_view(db.session, row) for row in rows]
    return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"]}


@blp.route("/licenses/<int:license_id>", methods=["GET"])
@blp.doc(security=BEARER)
@require_api("buyer")
@blp.response(200, LicenseSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Buyers only.")
@blp.alt_response(404, description="Unknown, or another buyer's license.")
def get_license(license_id: int):
    """One license: terms, period, versions, status and how its payment was split."""
    license = services.buyer_license(db.session, api_principal().organization.id, license_id)
    return license_view(db.session, license)


@blp.route("/licenses/<int:license_id>/renewals", methods=["POST"])
@blp.doc(security=BEARER)
@require_api("buyer")
@blp.response(201, LicenseSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Buyers only.")
@blp.alt_response(404, description="Unknown, or another buyer's license.")
@blp.alt_response(409, description="Not an annual license that is active or expired, or a renewal is open.")
def renew_license(license_id: int):
    """Open the renewal payment of an annual license (fresh data for another term)."""
    license = services.buyer_license(db.session, api_principal().organization.id, license_id)
    services.start_renewal(db.session, license)
    return license_view(db.session, license)


@blp.route("/licenses/<int:license_id>/cancel", methods=["POST"])
@blp.doc(security=BEARER)
@require_api("buyer")
@blp.response(200, LicenseSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Buyers only.")
@blp.alt_response(404, description="Unknown, or another buyer's license.")
@blp.alt_response(409, description="Not waiting for its payment (paid, being confirmed, or canceled).")
def cancel_license(license_id: int):
    """Give up a license not paid yet: it turns canceled and its payment is closed."""
    principal = api_principal()
    license = services.buyer_license(db.session, principal.organization.id, license_id)
    services.cancel(db.session, license, user=principal.user)
    return license_view(db.session, license)


@blp.route("/admin/licenses/<int:license_id>/refunds", methods=["POST"])
@blp.doc(security=BEARER)
@require_api("admin")
@blp.arguments(RefundCreateSchema)
@blp.response(201, RefundCreatedSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Admins only.")
@blp.alt_response(404, description="No such license.")
@blp.alt_response(409, description="The license has no payment to refund.")
@blp.alt_response(422, description="Amount not positive or above what is left.")
def refund_license(body, license_id: int):
    """Refund through the processor and reverse the shares by the money rules, at once."""
    license = services.any_license(db.session, license_id)
    refund = payments.admin_refund(db.session, license.id, body["amount"], admin_id=api_principal().user.id)
    return {"refund_id": refund.refund_id, "amount": {"amount": refund.amount, "currency": license.currency}}
