"""JSON API: a contributor's consents, and platforms importing consent they collected."""
from __future__ import annotations

import io

from flask import request
from flask_smorest import Blueprint

from marketplace.accounts.auth import BEARER, api_principal, require_api
from marketplace.body_limits import large_body
from marketplace.catalog.contributors import identity_ids
from marketplace.consent import imports, services
from marketplace.consent.presenters import consent_items
from marketplace.consent.schemas import (
    ConsentDecisionSchema,
    ConsentImportArgs,
    ConsentImportResultSchema,
    ConsentListSchema,
    ConsentSchema,
)
from marketplace.extensions import db
from marketplace.line_reader import ndjson_objects

blp = Blueprint("consent_api", __name__, description="Consent")


@blp.route("/me/consents", methods=["GET"])
@blp.doc(security=BEARER)
@require_api("contributor")
@blp.response(200, ConsentListSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Contributor accounts only.")
def my_consents():
    """The standing decisions: for each platform or dataset and scope, the latest."""
    ids = identity_ids(db.session, api_principal().user.id)
    return {"items": consent_items(db.session, services.current_consents(db.session, ids))}


@blp.route("/me/consents", methods=["PUT"])
@blp.doc(security=BEARER)
@require_api("contributor")
@blp.arguments(ConsentDecisionSchema)
@blp.response(200, ConsentSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Contributor accounts only.")
@blp.alt_response(404, description="No identity of yours on that platform or dataset.")
@blp.alt_response(422, description="Bad scope or status, or neither platform nor dataset.")
def decide(body):
    """Grant or withdraw, for a dataset or platform-wide, one scope or all ("*"); effective at once."""
    consent = services.decide(db.session, api_principal().user.id, platform=body["platform"],
                              dataset=body["dataset"], scope=body["scope"], status=body["status"])
    return consent_items(db.session, [consent])[0]


@blp.route("/consents/import", methods=["POST"])
@large_body
@blp.doc(security=BEARER, requestBody={
    "required": True,
    "content": {"application/x-ndjson": {
        "schema": {"type": "string", "format": "binary"},
        "example": '{"contributor": "u1", "dataset": null, "scope": "ai-train", "status": "granted", '
                   '"at": "2024-03-01T00:00:00Z"}\n'}},
    "description": "One decision a line: {contributor, dataset (slug or null), scope, status, at?}. "
                   "Atomic: one bad line and nothing is written."})
@require_api("platform")
@blp.arguments(ConsentImportArgs, location="query")
@blp.response(200, ConsentImportResultSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Only platforms import consent.")
@blp.alt_response(422, description='Bad source, or bad lines: errors = {"lines": [{line, field, message}]}.')
def import_consents(args):
    """Append consent the platform collected itself; each row records `platform-import:<source>`."""
    principal = api_principal()
    body = io.BufferedReader(request.stream, 1 << 20)
    result = imports.import_consents(db.session, principal.organization.id, ndjson_objects(body),
                                     source=args["source"], recorded_by=principal.user.id)
    return result
