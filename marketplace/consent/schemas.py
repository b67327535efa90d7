from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.catalog.models import SCOPES
from marketplace.consent.models import ALL_SCOPES, ConsentStatus
from marketplace.fields import String, UtcDateTime

SCOPE_CHOICES = (ALL_SCOPES, *SCOPES)


class ConsentDecisionSchema(Schema):
    platform = String(load_default=None, validate=validate.Length(max=80),
                      metadata={"description": "Platform slug; needed when dataset is null."})
    dataset = String(load_default=None, allow_none=True, validate=validate.Length(max=80),
                     metadata={"description": "Dataset slug, or null for a platform-wide decision."})
    scope = String(required=True, validate=validate.OneOf(SCOPE_CHOICES))
    status = String(required=True, validate=validate.OneOf(list(ConsentStatus)))


class ConsentSchema(Schema):
    platform = fields.String()
    dataset = fields.String(allow_none=True)
    scope = fields.String()
    status = fields.String()
    at = UtcDateTime()
    source = fields.String()


class ConsentListSchema(Schema):
    items = fields.List(fields.Nested(ConsentSchema))


class ConsentImportArgs(Schema):
    source = String(required=True, validate=validate.Length(min=1, max=100),
                    metadata={"description": "Where the consent was collected (kept with each row)."})


class ConsentImportResultSchema(Schema):
    imported = fields.Integer()


