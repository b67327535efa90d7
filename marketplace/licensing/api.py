"""JSON API: licenses (buyers) and refunds (admins)."""
from __future__ import annotations

from flask import request
from flask_smorest import Blueprint
from sqlalchemy import func, select

from marketplace.accounts.auth import BEARER, api_principal, require_api
from marketplace.errors import NotFound
from marketplace.extensions import db
from marketplace.licensing import services
from marketplace.licensing.models import License
from marketplace.licensing.presenters import license_view
from marketplace.licensing.schemas import (
    LicenseCreateSchema,
    LicenseListArgs,
    LicenseSchema,
    RefundCreatedSchema,
    RefundCreateSchema,
)
from marketplace.pagination import page_schema
from marketplace.payments import services as payments

blp = Blueprint("licensing_api", __name__, description="Licenses, payment and refunds")

IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key", "in": "header", "required": False, "schema": {"type": "string", "maxLength": 200},
    "description": "Same key and body → the same license (no second PaymentIntent).",
}


@blp.route("/licenses", methods=["POST"])
@blp.doc(security=BEARER, parameters=[IDEMPOTENCY_HEADER])
@require_api("buyer", "platform")
@blp.arguments(LicenseCreateSchema)
@blp.response(201, LicenseSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Not a buyer, or the dataset's own platform.")
@blp.alt_response(404, description="No such offer in the catalog.")
@blp.alt_response(409, description="Exclusive offer taken, offer retired, or key reused for another offer.")
@blp.alt_response(502, description="The payment processor is unavailable; nothing was created.")
def create_license(body):
    """Accept an offer's terms: a pending license and an unconfirmed PaymentIntent."""
    principal = api_principal()
    key = (request.headers.get("Idempotency-Key") or "").strip()[:200] or None
    license, created = services.create_license(
        db.session, buyer=principal.organization, user=principal.user, offer_id=body["offer_id"],
        idempotency_key=key)
    if created:
        payments.start_payment(db.session, license)
    db.session.commit()
    return license_view(db.session, license)


@blp.route("/licenses", methods=["GET"])
@blp.doc(security=BEARER)
@require_api("buyer")
@blp.arguments(LicenseListArgs, location="query")
@blp.response(200, page_schema(LicenseSchema, "LicensePage"))
@blp.alt_response(401, description="No or bad API key.")
def list_licenses(args):
    """The buyer's licenses, newest first."""
    buyer_id = api_principal().organization.id
    statement = select(License).where(License.buyer_id == buyer_id)
    total = db.session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = db.session.scalars(statement.order_by(License.id.desc()).limit(args["per_page"])
                              .offset((args["page"] - 1) * args["per_page"])).all()
    items = [license_view(db.session, services.refresh_status(db.session, row)) for row in rows]
    db.session.commit()
    return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"]}


@blp.route("/licenses/<int:license_id>", methods=["GET"])
@blp.doc(security=BEARER)
@require_api("buyer")
@blp.response(200, LicenseSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(404, description="Unknown, or another buyer's license.")
def get_license(license_id: int):
    """One license: terms, period, versions, status and how its payment was split."""
    license = services.buyer_license(db.session, api_principal().organization.id, license_id)
    db.session.commit()  # keeps a status the clock changed
    return license_view(db.session, license)


@blp.route("/licenses/<int:license_id>/renewals", methods=["POST"])
@blp.doc(security=BEARER)
@require_api("buyer")
@blp.response(201, LicenseSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(404, description="Unknown, or another buyer's license.")
@blp.alt_response(409, description="Not an annual license that is active or expired, or a renewal is open.")
def renew_license(license_id: int):
    """Open the renewal payment of an annual license (fresh data for another term)."""
    license = services.buyer_license(db.session, api_principal().organization.id, license_id)
    payments.start_renewal(db.session, license)
    db.session.commit()
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
    license = db.session.get(License, license_id)
    if license is None:
        raise NotFound(f"No license {license_id}.")
    refund = payments.admin_refund(db.session, license, body["amount"], admin_id=api_principal().user.id)
    db.session.commit()
    return {"refund_id": refund.refund_id, "amount": {"amount": refund.amount, "currency": license.currency}}
