"""JSON API: a dataset's transparency report and the platform's report."""
from __future__ import annotations

from flask import current_app
from flask_smorest import Blueprint

from marketplace.accounts.auth import BEARER, api_principal, require_api, viewer_organization_id
from marketplace.catalog import services as catalog
from marketplace.extensions import db
from marketplace.transparency import cache, reports
from marketplace.transparency.schemas import PlatformReportSchema, TransparencySchema

blp = Blueprint("transparency_api", __name__, description="Transparency reports")


@blp.route("/datasets/<slug>/transparency", methods=["GET"])
@blp.response(200, TransparencySchema)
@blp.alt_response(401, description="A bad API key was sent (none is needed).")
@blp.alt_response(404, description="Unknown, or another platform's draft or unpublished dataset.")
def dataset_transparency(slug: str):
    """How the dataset's license money was shared, net of refunds, and its contributors' consent.

    gross = paid − refunded = marketplace_fees + to_platform + to_contributors + unallocated, exactly.
    """
    dataset = catalog.visible_dataset(db.session, slug, viewer_organization_id())
    config = current_app.config
    return cache.cached_dataset_report(db.session, dataset, currency=config["CURRENCY"],
                                       opt_in_regions=config["OPT_IN_REGIONS"],
                                       ack_overdue_days=config["ACK_OVERDUE_DAYS"])


@blp.route("/platform/report", methods=["GET"])
@blp.doc(security=BEARER)
@require_api("platform")
@blp.response(200, PlatformReportSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Platform accounts only.")
def platform_report():
    """The platform's sales, allocations, balance and consent rates, per dataset and in total."""
    config = current_app.config
    return reports.platform_report(db.session, api_principal().organization.id, currency=config["CURRENCY"],
                                   opt_in_regions=config["OPT_IN_REGIONS"])
