"""Web pages: checkout (Stripe.js Card Element), the buyer's licenses, platform sales, admin refunds."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from marketplace.accounts.guards import admin_only, buyer_organization, csrf_ok, platform_organization
from marketplace.catalog.models import Offer
from marketplace.catalog.offers import quote
from marketplace.errors import DomainError, NotFound
from marketplace.extensions import db
from marketplace.licensing import services
from marketplace.licensing.models import License
from marketplace.licensing.presenters import license_view
from marketplace.payments import services as payments
from marketplace.payments.models import Refund

bp = Blueprint("licensing", __name__)


def stripe_js_url() -> str:
    base = current_app.config["STRIPE_API_BASE"].rstrip("/")
    if "api.stripe.com" in base:
        return "https://js.stripe.com/v3/"
    return f"{base}/js.stripe.com/v3/"  # localstripe serves its own Stripe.js


@bp.route("/offers/<int:offer_id>/checkout", methods=["GET", "POST"])
@login_required
def checkout(offer_id: int):
    buyer = buyer_organization()
    offer = db.session.get(Offer, offer_id)
    if offer is None or offer.dataset.status != "published" or offer.retired_at is not None:
        raise NotFound(f"No open offer {offer_id}.")
    if request.method == "POST":
        csrf_ok()
        try:
            license, created = services.create_license(db.session, buyer=buyer, user=current_user,
                                                       offer_id=offer.id)
            payments.start_payment(db.session, license)
        except DomainError as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for("licensing.checkout", offer_id=offer_id))
        db.session.commit()
        return redirect(url_for("licensing.pay", license_id=license.id))
    return render_template("licensing/checkout.html", offer=offer, dataset=offer.dataset,
                           price=quote(offer, offer.dataset.latest_version))


@bp.route("/licenses/<int:license_id>/pay", methods=["GET", "POST"])
@login_required
def pay(license_id: int):
    buyer = buyer_organization()
    license = services.buyer_license(db.session, buyer.id, license_id)
    if request.method == "POST":
        csrf_ok()
        token = request.form.get("stripe_token", "").strip()
        if not token:
            flash("The card could not be read; check its details and try again.", "error")
        else:
            try:
                payment = payments.confirm_card(db.session, license, token)
            except DomainError as error:
                db.session.rollback()
                flash(error.message, "error")
            else:
                db.session.commit()
                if payment.status == "failed":
                    flash(f"The payment failed: {payment.failure_message} Try another card.", "error")
                else:
                    flash("Payment received: your license turns active in a moment.", "success")
                    return redirect(url_for("licensing.license_page", license_id=license.id))
        return redirect(url_for("licensing.pay", license_id=license.id))
    db.session.commit()
    payment = payments.open_payment(db.session, license)
    return render_template("licensing/pay.html", license=license, payment=payment,
                           stripe_js_url=stripe_js_url(),
                           publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"])


@bp.route("/licenses")
@login_required
def my_licenses():
    buyer = buyer_organization()
    licenses = [services.refresh_status(db.session, row) for row in services.licenses_of_buyer(db.session, buyer.id)]
    db.session.commit()
    return render_template("licensing/list.html", licenses=licenses)


@bp.route("/licenses/<int:license_id>")
@login_required
def license_page(license_id: int):
    buyer = buyer_organization()
    license = services.buyer_license(db.session, buyer.id, license_id)
    db.session.commit()
    view = license_view(db.session, license)
    template = "licensing/_status.html" if request.headers.get("HX-Request") else "licensing/license.html"
    return render_template(template, license=license, view=view,
                           payments=payments.license_payments(db.session, license.id),
                           refunds=_refunds(license))


def _refunds(license: License) -> list[Refund]:
    ids = [p.id for p in payments.license_payments(db.session, license.id)]
    if not ids:
        return []
    return list(db.session.scalars(select(Refund).where(Refund.payment_id.in_(ids)).order_by(Refund.id)))


@bp.route("/platform/sales")
@login_required
def sales():
    organization = platform_organization("Sales are shown to platform accounts.")
    rows = [(license, payments.license_split(db.session, license))
            for license in services.sales_of_platform(db.session, organization.id)]
    return render_template("licensing/sales.html", rows=rows)


@bp.route("/admin/licenses", methods=["GET"])
@login_required
def admin_licenses():
    admin_only()
    licenses = list(db.session.scalars(select(License).where(License.status != "canceled")
                                       .order_by(License.id.desc()).limit(200)))
    rows = [(license, payments.license_split(db.session, license)) for license in licenses]
    return render_template("licensing/admin.html", rows=rows)


@bp.route("/admin/licenses/<int:license_id>/refunds", methods=["POST"])
@login_required
def admin_refund(license_id: int):
    admin_only()
    csrf_ok()
    license = db.session.get(License, license_id)
    if license is None:
        raise NotFound(f"No license {license_id}.")
    raw = request.form.get("amount", "").strip()
    try:
        amount = int(raw)
        refund = payments.admin_refund(db.session, license, amount, admin_id=current_user.id)
    except ValueError:
        flash(f"Amount must be a whole number of minor units, got {raw!r}.", "error")
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "error")
    else:
        db.session.commit()
        flash(f"Refunded {refund.amount} minor units ({refund.refund_id}); shares reversed.", "success")
    return redirect(url_for("licensing.admin_licenses"))
