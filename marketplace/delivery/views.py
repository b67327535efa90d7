"""Web pages of delivery: the license page's download and acknowledge actions, the platform's
download log, and the standards documents (RSL license.xml, Croissant, robots.txt)."""
from __future__ import annotations

from datetime import datetime

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user, login_required

from marketplace.accounts.guards import buyer_organization, csrf_ok, platform_organization
from marketplace.boundary import attempt
from marketplace.delivery import services, standards, withdrawals
from marketplace.delivery.api import signed_urls
from marketplace.errors import invalid_field
from marketplace.extensions import DOWNLOADS, db, limiter
from marketplace.licensing.services import buyer_license

bp = Blueprint("delivery", __name__)


@bp.route("/licenses/<int:license_id>/download", methods=["POST"])
@limiter.limit(DOWNLOADS)
@login_required
def download(license_id: int):
    """Sign the URLs and send the browser to the export (or its manifest): 303 to a signed GET."""
    csrf_ok()
    license = buyer_license(db.session, buyer_organization().id, license_id)
    with attempt() as outcome:
        issued = services.issue_download(
            db.session, license, user_id=current_user.id, secret=current_app.config["SECRET_KEY"],
            ttl_seconds=current_app.config["DOWNLOAD_TTL_SECONDS"],
            version=request.form.get("version") or None, since_version=request.form.get("since_version") or None)
    if not outcome.ok:
        flash(outcome.message, "error")
        return redirect(url_for("licensing.license_page", license_id=license_id))
    urls = signed_urls(license.id, issued)
    return redirect(urls["manifest_url" if request.form.get("what") == "manifest" else "url"], code=303)


@bp.route("/licenses/<int:license_id>/withdrawals/ack", methods=["POST"])
@login_required
def acknowledge(license_id: int):
    csrf_ok()
    license = buyer_license(db.session, buyer_organization().id, license_id)
    with attempt() as outcome:
        raw = request.form.get("through", "")
        try:
            through = datetime.fromisoformat(raw)
        except ValueError:
            raise invalid_field("through", f"Not a time: {raw!r}.") from None
        done = withdrawals.acknowledge(db.session, license, through.replace(tzinfo=None), user_id=current_user.id)
    if outcome.ok:
        flash(f"Acknowledged: every withdrawal up to {done:%Y-%m-%d %H:%M:%S} UTC is deleted.", "success")
    else:
        flash(outcome.message, "error")
    return redirect(url_for("licensing.license_page", license_id=license_id) + "#withdrawals")


@bp.route("/platform/downloads")
@login_required
def platform_downloads():
    organization = platform_organization("Downloads are shown to platform accounts.")
    return render_template("delivery/platform_downloads.html",
                           rows=services.platform_download_log(db.session, organization.id))


def _base() -> str:
    return current_app.config["BASE_URL"].rstrip("/")


@bp.route("/datasets/<slug>/license.xml")
def license_xml(slug: str):
    """RSL 1.0 terms of a published dataset."""
    dataset = standards.published_dataset(db.session, slug)
    return Response(standards.rsl_document(dataset, base=_base()), mimetype=standards.RSL_TYPE)


@bp.route("/datasets/<slug>/croissant.json")
def croissant(slug: str):
    """Croissant 1.1 (JSON-LD) of a published dataset, with its Responsible-AI fields."""
    dataset = standards.published_dataset(db.session, slug)
    document = standards.croissant_document(dataset, base=_base(), opt_in_regions=current_app.config["OPT_IN_REGIONS"])
    response = current_app.json.response(document)
    response.mimetype = "application/ld+json"
    return response


@bp.route("/datasets/<slug>/offers/<int:offer_id>/terms.json")
def offer_terms(slug: str, offer_id: int):
    """The terms a buyer accepting the offer now agrees to: the canonical JSON RSL's <terms> hashes."""
    terms = standards.offer_terms(standards.published_dataset(db.session, slug), offer_id)
    return Response(terms.body, mimetype="application/json", headers={"X-Terms-SHA256": terms.sha256})


@bp.route("/robots.txt")
def robots():
    return Response(standards.robots_txt(standards.published_slugs(db.session), base=_base()), mimetype="text/plain")
