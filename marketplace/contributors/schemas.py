"""Marshmallow schemas of claim codes and identities, used only at the edge (claims_api, claims_views)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from marketplace.fields import String, UtcDateTime
from marketplace.pagination import PageArgs

CODE_EXAMPLE = "7K3M-Q9XD-2HBT-V0PN"


class ClaimCodeSchema(Schema):
    code = fields.String(metadata={"description": "Shown once; pass it on to the contributor.",
                                   "example": CODE_EXAMPLE})
    expires_at = UtcDateTime()
    contributor = fields.String(metadata={"description": "The contributor's external id."})


class RevokedSchema(Schema):
    revoked = fields.Integer(metadata={"description": "Open codes revoked (0 when there were none)."})


class ExportArgs(Schema):
    """The export's body (optional): `{}` issues codes only to those without an open one."""

    reissue = fields.Boolean(load_default=False, metadata={
        "description": "true: revoke every open code of your unclaimed contributors and issue a new code to "
                       "each of them. Codes already handed out stop working, so confirm_revoking is needed."})
    confirm_revoking = fields.Integer(load_default=None, validate=validate.Range(min=0), metadata={
        "description": "With reissue: the number of open codes it revokes (open_codes from "
                       "GET /api/v1/claim-codes/open-count). Any other number is a 409 saying the right one, "
                       "and nothing is revoked."})

    @validates_schema
    def _confirm_only_with_reissue(self, data, **_kwargs):
        if data.get("confirm_revoking") is not None and not data.get("reissue"):
            raise ValidationError("Only with reissue: true (the export alone revokes nothing).", "confirm_revoking")


class ExportPlanSchema(Schema):
    unclaimed = fields.Integer(metadata={"description": "Your unclaimed contributors."})
    holding_open_code = fields.Integer(metadata={
        "description": "Unclaimed contributors holding an open code: the export skips them and their code "
                       "keeps working."})
    to_issue = fields.Integer(metadata={
        "description": "Codes the export issues now: one per unclaimed contributor without an open code."})
    open_codes = fields.Integer(metadata={
        "description": "Open (unused, unrevoked, unexpired) codes of unclaimed contributors: what a re-issue "
                       "revokes; pass it as confirm_revoking."})


class ContributorListArgs(PageArgs):
    q = String(load_default=None, validate=validate.Length(max=200),
               metadata={"description": "Keep external ids starting with this (case-sensitive)."})
    claimed = fields.Boolean(load_default=None, metadata={"description": "true: claimed only; false: unclaimed only."})


class PlatformContributorSchema(Schema):
    external_id = fields.String()
    region = fields.String()
    claimed = fields.Boolean()
    claimed_at = UtcDateTime(allow_none=True)
    code_expires_at = UtcDateTime(allow_none=True, metadata={
        "description": "When the contributor's open claim code expires; null without one."})


class ClaimSchema(Schema):
    code = String(required=True, validate=validate.Length(max=100), metadata={"example": CODE_EXAMPLE})
    email = String(required=True, validate=validate.Length(max=254))
    password = String(required=True, validate=validate.Length(max=1000), load_only=True)


class LinkSchema(Schema):
    code = String(required=True, validate=validate.Length(max=100), metadata={"example": CODE_EXAMPLE})


class IdentitySchema(Schema):
    platform = fields.String(metadata={"description": "The platform's slug."})
    external_id = fields.String()
    claimed_at = UtcDateTime()


class ClaimedSchema(Schema):
    api_key = fields.String(metadata={"description": "The new account's API key, shown once."})
    identities = fields.List(fields.Nested(IdentitySchema))


class IdentityListSchema(Schema):
    items = fields.List(fields.Nested(IdentitySchema))


class ErasureRequestSchema(Schema):
    platform = String(required=True, validate=validate.Length(min=1, max=80))


class ErasureSchema(Schema):
    platform = fields.String()
    records_erased = fields.Integer()
    requested_at = UtcDateTime()
