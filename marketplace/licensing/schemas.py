from marshmallow import Schema, fields, validate

from marketplace.fields import DatabaseId, UtcDateTime
from marketplace.pagination import PageArgs


class LicenseCreateSchema(Schema):
    offer_id = DatabaseId(required=True)


class MoneySchema(Schema):
    amount = fields.Integer()
    currency = fields.String()


class PaymentRefSchema(Schema):
    provider = fields.String()
    payment_intent_id = fields.String()
    client_secret = fields.String()
    status = fields.String()
    purpose = fields.String()


class SplitSchema(Schema):
    paid = fields.Nested(MoneySchema)
    refunded = fields.Nested(MoneySchema)
    marketplace_fee = fields.Nested(MoneySchema)
    to_platform = fields.Nested(MoneySchema)
    to_contributors = fields.Nested(MoneySchema)
    unallocated = fields.Nested(MoneySchema)
    contributors_paid = fields.Integer()


class OfferRefSchema(Schema):
    id = fields.Integer()
    name = fields.String()


class LicenseSchema(Schema):
    id = fields.Integer()
    status = fields.String()
    dataset = fields.String()
    offer = fields.Nested(OfferRefSchema)
    buyer = fields.String()
    terms = fields.Dict()
    terms_sha256 = fields.String()
    accepted_at = UtcDateTime()
    period_start = UtcDateTime(allow_none=True)
    period_end = UtcDateTime(allow_none=True)
    pay_by = UtcDateTime()
    versions = fields.List(fields.String())
    price = fields.Nested(MoneySchema)
    payment = fields.Nested(PaymentRefSchema, allow_none=True)
    split = fields.Nested(SplitSchema, allow_none=True)


class LicenseListArgs(PageArgs):
    """API.md's list arguments."""


class RefundCreateSchema(Schema):
    amount = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


class RefundCreatedSchema(Schema):
    refund_id = fields.String()
    amount = fields.Nested(MoneySchema)
