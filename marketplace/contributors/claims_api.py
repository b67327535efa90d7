"""JSON API: claim codes (platforms), claiming and linking identities (contributors)."""
from __future__ import annotations

from flask import Response
from flask_smorest import Blueprint

from marketplace.accounts.auth import BEARER, api_principal, require_api
from marketplace.accounts.models import Organization
from marketplace.catalog.contributors import identities
from marketplace.contributors import claims
from marketplace.contributors.schemas import (
    ClaimCodeSchema,
    ClaimedSchema,
    ClaimSchema,
    ContributorListArgs,
    ExportArgs,
    ExportPlanSchema,
    IdentityListSchema,
    IdentitySchema,
    LinkSchema,
    PlatformContributorSchema,
    RevokedSchema,
)
from marketplace.extensions import CLAIMS, db, limiter
from marketplace.pagination import page_schema

blp = Blueprint("claims_api", __name__, description="Claim codes and contributor identities")

CSV_RESPONSE = {"type": "string", "example": "external_id,region,code,expires_at\n"
                                             "u1,US,7K3M-Q9XD-2HBT-V0PN,2025-01-31T12:00:00Z\n"}


#: What the export did, in headers of its CSV answer (the body is the codes alone).
EXPORT_HEADERS = {
    "X-Claim-Codes-Issued": "Codes issued: the CSV's lines.",
    "X-Claim-Codes-Skipped": "Unclaimed contributors skipped because they hold an open code (it keeps working).",
    "X-Claim-Codes-Revoked": "Open codes revoked first (reissue only; 0 otherwise).",
}


def export_response(platform: Organization, issued_by: int, *, reissue: bool = False,
                    confirm_revoking: int | None = None) -> tuple[Response, claims.Exported]:
    """Codes for the platform's unclaimed contributors (by default only those without an open code),
    as a CSV attachment streamed from the spooled file, and what the export did (the API's and the
    page's download). The request commits the codes once the response is made, before its first
    byte is sent: no code reaches the platform unsaved.

    :raise Conflict: a re-issue without the right `confirm_revoking` (see `claims.export`).
    """
    spool, exported = claims.spooled_export(db.session, platform.id, issued_by, reissue=reissue,
                                            confirm_revoking=confirm_revoking)
    counts = dict(zip(EXPORT_HEADERS, map(str, (exported.issued, exported.skipped, exported.revoked)), strict=True))
    response = Response(claims.chunks(spool), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="claim-codes-{platform.slug}.csv"', **counts})
    return response, exported


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


@blp.route("/claim-codes/open-count", methods=["GET"])
@blp.doc(security=BEARER)
@require_api("platform")
@blp.response(200, ExportPlanSchema)
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Only platforms export claim codes.")
def export_plan():
    """What an export would do now, and what a re-issue would revoke.

    Codes it issues, contributors it skips (they hold an open code), and the open codes a
    re-issue revokes: the number to send as its confirm_revoking.
    """
    return claims.export_plan(db.session, api_principal().organization.id)


@blp.route("/claim-codes/export", methods=["POST"])
@blp.doc(security=BEARER)
@require_api("platform")
@blp.arguments(ExportArgs, required=False)
@blp.response(200, CSV_RESPONSE, content_type="text/csv",
              description="external_id,region,code,expires_at: one new code per unclaimed contributor without an "
                          "open code (with reissue: per unclaimed contributor).",
              headers={name: {"description": text, "schema": {"type": "integer"}}
                       for name, text in EXPORT_HEADERS.items()})
@blp.alt_response(401, description="No or bad API key.")
@blp.alt_response(403, description="Only platforms export claim codes.")
@blp.alt_response(409, description="reissue without confirm_revoking equal to the number of open codes it "
                                   "would revoke (the message says it); nothing is revoked.")
@blp.alt_response(422, description="confirm_revoking without reissue, or not a whole number.")
def export_codes(args):
    """Codes to mail out, as CSV: one per unclaimed contributor without an open code.

    Codes already handed out keep working: their contributors are skipped. With reissue, every
    open code is revoked first and everyone unclaimed gets a new one; confirm_revoking must say
    how many open codes that revokes (GET /api/v1/claim-codes/open-count).
    """
    principal = api_principal()
    response, _exported = export_response(principal.organization, principal.user.id, reissue=args["reissue"],
                                          confirm_revoking=args["confirm_revoking"])
    return response


@blp.route("/contributors/claim", methods=["POST"])
@limiter.limit(CLAIMS)
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
@limiter.limit(CLAIMS)
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
