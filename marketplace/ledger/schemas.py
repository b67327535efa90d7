from marshmallow import Schema, fields


class ViolationSchema(Schema):
    invariant = fields.String()
    detail = fields.Raw()


class LedgerCheckSchema(Schema):
    balanced = fields.Boolean()
    transactions = fields.Integer()
    entries = fields.Integer()
    mismatched_accounts = fields.List(fields.Raw())
    violations = fields.List(fields.Nested(ViolationSchema))
    seconds = fields.Float()
