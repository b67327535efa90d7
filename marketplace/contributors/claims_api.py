"""JSON API: claim codes (platforms), claiming and linking identities (contributors)."""
from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint

from marketplace.accounts.auth import BEARER, api_principal, require_api
from marketplace.accounts.models import Organization
from marketplace.contributors import claims
from marketplace.catalog.contributors import identities
from marketplace.contributors.schemas import (
    ClaimCodeSchema,
    ClaimedSchema,
    ClaimSchema,
    ContributorListArgs,
    IdentityListSchema,
    IdentitySchema,
    LinkSchema,
    PlatformContributorSchema,
    RevokedSchema,
)
from marketplace.extensions import db, limiter
from marketplace.pagination import page_schema

blp = Blueprint("claims_api", __name__, description="Claim codes and contributor identities")

CSV_RESPONSE = {"type": "string", "example": "external_id,region,code,expires_at\n"
                                             "u1,US,7K3M-Q9XD-2HBT-V0PN,2025-01-31T12:00:00Z\n"}


def export_response(platform: Organization, issued_by: int) -> Response:
    """Fresh codes for the platform's unclaimed contributors, as a CSV attachment streamed from
    the spooled file (the API's and the page's download). The request commits the codes once
    the response is made, before its first byte is sent: no code reaches the platform unsaved."""
    spool, _count = claims.spooled_export(db.session, platform.id, issued_by)
    return Response(claims.chunks(spool), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="claim-codes-{platform.slug}.csv"'})


@blp.route("/contributors/<path:external_id>/claim-codes", methods=["POST"])
@blp.doc(security=BEARER)
@require_api("platform")
@blp.response(201, ClaimCodeSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Only platforms issue claim codes.")
@blp.alt_response(404, description="No such contributor on your platform.")
@blp.alt_response(409, description="The contributor already claimed their identity.")
def issue_code(external_id: str):
    """A one-time, expiring code for your contributor to claim with; their open codes are revoked."""
    principal = api_principal()
    issued = claims.issue(db.session, principal.organization.id, external_id, principal.user.id)
    return {"code": issued.code, "expires_at": issued.claim_code.expires_at, "contributor": external_id}


@blp.route("/contributors/<path:external_id>/claim-codes", methods=["DELETE"])
@blp.doc(security=BEARER)
@require_api("platform")
@blp.response(200, RevokedSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Only platforms revoke claim codes.")
@blp.alt_response(404, description="No such contributor on your platform.")
def revoke_codes(external_id: str):
    """Revoke the contributor's open codes (a code already used stays used)."""
    revoked = claims.revoke(db.session, api_principal().organization.id, external_id)
    return {"revoked": revoked}


@blp.route("/contributors", methods=["GET"])
@blp.doc(security=BEARER)
@require_api("platform")
@blp.arguments(ContributorListArgs, location="query")
@blp.response(200, page_schema(PlatformContributorSchema, "PlatformContributorPage"))
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Only platforms list their contributors.")
@blp.alt_response(422, description="Bad page, per_page (max 200) or claimed.")
def list_contributors(args):
    """Your contributors by external id: claimed or not, and when an open code expires."""
    items, total = claims.list_contributors(
        db.session, api_principal().organization.id, q=args["q"], claimed=args["claimed"],
        page=args["page"], per_page=args["per_page"])
    return {"items": items, "total": total, "page": args["page"], "per_page": args["per_page"]}


@blp.route("/claim-codes/export", methods=["POST"])
@blp.doc(security=BEARER)
@require_api("platform")
@blp.response(200, CSV_RESPONSE, content_type="text/csv",
              description="external_id,region,code,expires_at: one fresh code per unclaimed contributor.")
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Only platforms export claim codes.")
def export_codes():
    """Fresh codes for every unclaimed contributor, as CSV to mail out; their older open codes are revoked."""
    principal = api_principal()
    return export_response(principal.organization, principal.user.id)


@blp.route("/contributors/claim", methods=["POST"])
@limiter.limit("10 per minute")
@blp.arguments(ClaimSchema)
@blp.response(201, ClaimedSchema)
@blp.alt_response(404, description="No such claim code.")
@blp.alt_response(409, description="The code is used, revoked or expired, the identity is claimed, "
                                   "or the e-mail is registered (log in and link the code instead).")
@blp.alt_response(422, description="Bad e-mail, password (8 characters or more) or code shape.")
@blp.alt_response(429, description="Too many claims from this address: wait a minute.")
def claim(body):
    """Claim your identity with the code your platform gave you: makes your account and its first API key."""
    claimed = claims.claim(db.session, body["code"], body["email"], body["password"])
    return {"api_key": claimed.api_key, "identities": claims.identity_items(db.session, claimed.identities)}


@blp.route("/me/identities", methods=["POST"])
@blp.doc(security=BEARER)
@require_api("contributor")
@limiter.limit("10 per minute")
@blp.arguments(LinkSchema)
@blp.response(201, IdentitySchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Contributor accounts only.")
@blp.alt_response(404, description="No such claim code.")
@blp.alt_response(409, description="The code is used, revoked or expired, the identity is claimed, "
                                   "or you already hold an identity on that platform.")
@blp.alt_response(422, description="Not a claim code's shape.")
@blp.alt_response(429, description="Too many attempts: wait a minute.")
def link_identity(body):
    """Link another platform's identity to your account: one statement for all of them."""
    contributor = claims.link_code(db.session, api_principal().user, body["code"])
    return claims.identity_items(db.session, [contributor])[0]


@blp.route("/me/identities", methods=["GET"])
@blp.doc(security=BEARER)
@require_api("contributor")
@blp.response(200, IdentityListSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Contributor accounts only.")
def my_identities():
    """The identities your account holds, one per platform."""
    return {"items": claims.identity_items(db.session, identities(db.session, api_principal().user.id))}
