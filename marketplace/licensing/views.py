"""Web pages: checkout (Stripe.js Card Element), the buyer's licenses, platform sales, admin refunds."""
from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from marketplace.accounts.guards import (
    admin_only,
    buyer_organization,
    csrf_ok,
    platform_organization,
)
from marketplace.boundary import attempt
from marketplace.catalog.offers import quote
from marketplace.extensions import db
from marketplace.licensing import services
from marketplace.licensing.models import LicenseStatus
from marketplace.licensing.presenters import (
    license_page_sections,
    license_refunds,
    license_split,
    license_view,
)
from marketplace.money import format_major, parse_major
from marketplace.payments import services as payments
from marketplace.payments.models import PaymentStatus
from marketplace.templating import money

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
    if request.method == "POST":
        csrf_ok()
        with attempt() as outcome:
            license = services.buy(db.session, buyer=buyer, user=current_user, offer_id=offer_id)
        if not outcome.ok:
            flash(outcome.message, "error")
            return redirect(url_for("licensing.checkout", offer_id=offer_id))
        return redirect(url_for("licensing.pay", license_id=license.id))
    offer = services.offer_for_checkout(db.session, offer_id)
    return render_template("licensing/checkout.html", offer=offer, dataset=offer.dataset,
                           price=quote(offer, offer.dataset.latest_version))


@bp.route("/licenses/<int:license_id>/pay", methods=["GET", "POST"])
@login_required
def pay(license_id: int):
    license = services.buyer_license(db.session, buyer_organization().id, license_id)
    if request.method == "POST":
        csrf_ok()
        with attempt() as outcome:
            payment = services.pay_by_card(db.session, license, request.form.get("stripe_token", ""))
        if not outcome.ok:
            flash(outcome.message, "error")
        elif payment.status == PaymentStatus.FAILED:
            flash(f"The payment failed: {payment.failure_message} Try another card.", "error")
        else:
            flash("Payment received: your license turns active in a moment.", "success")
            return redirect(url_for("licensing.license_page", license_id=license.id))
        return redirect(url_for("licensing.pay", license_id=license.id))
    return render_template("licensing/pay.html", license=license, view=license_view(db.session, license),
                           payment=payments.open_payment(db.session, license.id),
                           stripe_js_url=stripe_js_url(),
                           publishable_key=current_app.config["STRIPE_PUBLISHABLE_KEY"])


@bp.route("/licenses")
@login_required
def my_licenses():
    licenses = services.licenses_of_buyer(db.session, buyer_organization().id)
    return render_template("licensing/list.html", licenses=licenses,
                           statuses={license.id: services.effective_status(license) for license in licenses})


def _viewable_license(license_id: int):
    """The buyer's own license, or any license for an admin. :raise NotFound / :abort 403."""
    if current_user.role == "admin":
        return services.any_license(db.session, license_id)
    return services.buyer_license(db.session, buyer_organization().id, license_id)


@bp.route("/licenses/<int:license_id>")
@login_required
def license_page(license_id: int):
    license = _viewable_license(license_id)
    context = {"license": license, "view": license_view(db.session, license),
               "payments": payments.license_payments(db.session, license.id),
               "refunds": license_refunds(db.session, license.id)}
    if request.headers.get("HX-Request"):
        # The pending page polls its status block; once the payment settled, the whole page
        # (downloads, history, the flash) is out of date: htmx reloads it once.
        block = make_response(render_template("licensing/_status.html", **context))
        if context["view"]["status"] != LicenseStatus.PENDING_PAYMENT:
            block.headers["HX-Refresh"] = "true"
        return block
    return render_template("licensing/license.html", **context,
                           sections=license_page_sections(db.session, license))


@bp.route("/licenses/<int:license_id>/cancel", methods=["POST"])
@login_required
def cancel(license_id: int):
    csrf_ok()
    license = services.buyer_license(db.session, buyer_organization().id, license_id)
    with attempt() as outcome:
        services.cancel(db.session, license, user=current_user)
    if outcome.ok:
        hours = current_app.config["EXCLUSIVE_RESERVATION_COOLDOWN_HOURS"]
        later = (f" You can reserve this exclusive offer again in {hours} hours."
                 if license.terms["exclusive"] and hours > 0 else "")
        flash(f"License #{license.id} canceled; nothing was charged.{later}", "success")
    else:
        flash(outcome.message, "error")
    return redirect(url_for("licensing.license_page", license_id=license.id))


@bp.route("/platform/sales")
@login_required
def sales():
    organization = platform_organization("Sales are shown to platform accounts.")
    rows = [(license, license_split(db.session, license))
            for license in services.sales_of_platform(db.session, organization.id)]
    return render_template("licensing/sales.html", rows=rows)


@bp.route("/platform/sales/<int:license_id>")
@login_required
def sale(license_id: int):
    organization = platform_organization("Sales are shown to platform accounts.")
    license = services.platform_sale(db.session, organization.id, license_id)
    return render_template("licensing/sale.html", license=license, view=license_view(db.session, license))


@bp.route("/admin/licenses", methods=["GET"])
@login_required
def admin_licenses():
    admin_only()
    rows = [(license, license_split(db.session, license)) for license in services.recent_licenses(db.session)]
    return render_template("licensing/admin.html", rows=rows)


@bp.route("/admin/licenses/<int:license_id>/refunds", methods=["POST"])
@login_required
def admin_refund(license_id: int):
    """Two steps: the amount (in the currency's major units) is shown back for confirmation, and
    only the confirmed form refunds."""
    admin_only()
    csrf_ok()
    license = services.any_license(db.session, license_id)
    raw = request.form.get("amount", "").strip()
    try:
        amount = parse_major(raw)
    except ValueError as error:
        flash(f"Refund amount {raw!r}: {error}", "error")
        return redirect(url_for("licensing.admin_licenses"))
    if request.form.get("confirmed") != "yes":
        return render_template("licensing/refund_confirm.html", license=license, amount=amount,
                               typed=format_major(amount), split=license_split(db.session, license))
    with attempt() as outcome:
        refund = payments.admin_refund(db.session, license.id, amount, admin_id=current_user.id)
    if outcome.ok:
        flash(f"Refunded {money(refund.amount, license.currency)} of license #{license.id} "
              f"({refund.refund_id}); every share reversed.", "success")
    else:
        flash(outcome.message, "error")
    return redirect(url_for("licensing.admin_licenses"))
