"""Web pages: a dataset's public transparency report and the platform's report."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import login_required

from marketplace.accounts.auth import viewer_organization_id, web_principal
from marketplace.accounts.guards import platform_organization
from marketplace.catalog import services as catalog
from marketplace.extensions import db
from marketplace.payouts.views import payee_overview
from marketplace.transparency import cache, reports

bp = Blueprint("transparency", __name__)


@bp.route("/datasets/<slug>/transparency")
def dataset(slug: str):
    """Public for published datasets; a draft only to its own platform (404 for anyone else)."""
    found = catalog.visible_dataset(db.session, slug, viewer_organization_id())
    config = current_app.config
    report = cache.cached_dataset_report(db.session, found, currency=config["CURRENCY"],
                                         opt_in_regions=config["OPT_IN_REGIONS"],
                                       ack_overdue_days=config["ACK_OVERDUE_DAYS"])
    # The chart's data, in a <script type="application/json"> block (the table holds the same).
    chart = {"labels": [bucket.label for bucket in report.payout_histogram],
             "contributors": [bucket.contributors for bucket in report.payout_histogram]}
    return render_template("transparency/dataset.html", report=report, dataset=found, chart=chart,
                           is_owner=viewer_organization_id() == found.platform_id)


@bp.route("/platform/report")
@login_required
def platform_report():
    organization = platform_organization("The platform report is shown to platform accounts.")
    config = current_app.config
    report = reports.platform_report(db.session, organization.id, currency=config["CURRENCY"],
                                     opt_in_regions=config["OPT_IN_REGIONS"])
    return render_template("transparency/platform_report.html", report=report, platform=organization,
                           **payee_overview(web_principal()))
