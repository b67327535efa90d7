"""JSON API: a version's scan report (public once published), the platform's findings, and a
contributor's own counts."""
from __future__ import annotations

from flask import request
from flask_smorest import Blueprint

from marketplace.accounts.auth import BEARER, api_principal, require_api, viewer_organization_id
from marketplace.catalog import services as catalog
from marketplace.errors import NotFound
from marketplace.extensions import db
from marketplace.pagination import page_schema
from marketplace.pii import presenters, services
from marketplace.pii.schemas import FindingsArgs, FindingSchema, RemovedSchema, ScanReportSchema

blp = Blueprint("pii_api", __name__, description="Personal data: scan reports and findings")


@blp.route("/datasets/<slug>/versions/<number>/pii", methods=["GET"])
@blp.response(200, ScanReportSchema)
@blp.alt_response(404, description="Unknown dataset or version, or a draft that isn't yours.")
def version_report(slug: str, number: str):
    """The version's scan report: what was scanned, found, replaced, kept and allowed, what is
    not scanned, and the detector's recall and precision on the shipped fixture's pristine held-out
    part (tests/pii/fixture/held_out_3.jsonl, never tuned on)."""
    dataset = catalog.visible_dataset(db.session, slug, viewer_organization_id())
    report = services.version_report(db.session, dataset, number)
    return presenters.report_body(dataset.slug, report.version.number, report.row)


@blp.route("/datasets/<slug>/pii/findings", methods=["GET"])
@blp.doc(security=BEARER)
@blp.arguments(FindingsArgs, location="query")
@blp.response(200, page_schema(FindingSchema, "PiiFindingPage"))
@blp.alt_response(401, description="A bad API key.")
@blp.alt_response(404, description="Not your dataset, or no key (the findings are its platform's alone).")
@blp.alt_response(422, description="Bad type, page or per_page.")
def findings(args, slug: str):
    """Where personal data was found in the live records (type and offsets; never the value).
    Anyone but the dataset's platform gets a 404, with or without a key."""
    if not request.headers.get("Authorization"):
        raise NotFound(f"No dataset {slug!r} among yours.")
    organization = api_principal().organization
    if organization is None or organization.kind != "platform":
        raise NotFound(f"No dataset {slug!r} among yours.")
    dataset = catalog.owned_dataset(db.session, organization.id, slug)
    items, total = services.findings_page(db.session, dataset.id, args["type"], args["page"], args["per_page"])
    return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"]}


@blp.route("/me/pii", methods=["GET"])
@blp.doc(security=BEARER)
@require_api("contributor")
@blp.response(200, RemovedSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Contributor accounts only.")
def my_pii():
    """What exports remove from your own records, over every platform you linked."""
    return services.removed_for_user(db.session, api_principal().user.id)
