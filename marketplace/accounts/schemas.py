from marshmallow import Schema, fields, validate

from marketplace.fields import String, UtcDateTime


class OwnerSchema(Schema):
    email = String(required=True, metadata={"example": "ops@forum.example.test"})
    password = String(required=True, load_only=True, validate=validate.Length(min=8))


class OrganizationCreateSchema(Schema):
    kind = String(required=True, validate=validate.OneOf(["platform", "buyer"]))
    name = String(required=True, validate=validate.Length(min=2, max=120))
    owner = fields.Nested(OwnerSchema, required=True)


class OrganizationCreatedSchema(Schema):
    id = fields.Integer()
    kind = fields.String()
    name = fields.String()
    slug = fields.String()
    api_key = fields.String(metadata={"description": "Shown once; store it now."})


class ApiKeyCreateSchema(Schema):
    label = String(load_default="", validate=validate.Length(max=120))


class ApiKeyCreatedSchema(Schema):
    id = fields.Integer()
    prefix = fields.String()
    api_key = fields.String(metadata={"description": "Shown once; store it now."})


class ApiKeySchema(Schema):
    id = fields.Integer()
    prefix = fields.String()
    label = fields.String()
    created_at = UtcDateTime()
    last_used_at = UtcDateTime(allow_none=True)


class ApiKeyListSchema(Schema):
    items = fields.List(fields.Nested(ApiKeySchema))
