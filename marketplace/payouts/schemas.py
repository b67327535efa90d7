"""The payouts API's inputs and outputs."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from marketplace.fields import String, UtcDateTime
from marketplace.licensing.schemas import MoneySchema
from marketplace.pagination import page_schema


class PayoutAccountArgs(Schema):
    provider = String(required=True, validate=validate.OneOf(("batch", "stripe")),
                      metadata={"description": '"batch" (paid in the marketplace\'s batch file) or "stripe".'})
    email = String(load_default=None, validate=validate.Length(min=3, max=254),
                   metadata={"description": "batch: the payee's e-mail address (PayPal Payouts)."})

    @validates_schema
    def _email_for_batch(self, data, **_kwargs):
        if data.get("provider") == "batch" and not data.get("email"):
            raise ValidationError("Required for the batch provider.", "email")


class PayoutAccountSchema(Schema):
    provider = fields.String()
    status = fields.String(metadata={"description": '"onboarding" or "ready".'})
    email = fields.String(allow_none=True)
    onboarding_url = fields.String(allow_none=True,
                                   metadata={"description": "stripe, while onboarding: Stripe's link."})


class PayoutSchema(Schema):
    id = fields.Integer()
    amount = fields.Nested(MoneySchema)
    status = fields.String(metadata={"description": '"in_transit", "paid" or "failed".'})
    failure_reason = fields.String(allow_none=True)
    created_at = UtcDateTime()
    settled_at = UtcDateTime(allow_none=True)


PayoutPageSchema = page_schema(PayoutSchema, "PayoutPage")


class SkippedSchema(Schema):
    below_threshold = fields.Integer()
    no_account = fields.Integer()
    negative = fields.Integer()


class PayoutRunSchema(Schema):
    id = fields.Integer()
    payouts = fields.Integer(metadata={"description": "Payouts this run reserved."})
    total = fields.Nested(MoneySchema)
    skipped = fields.Nested(SkippedSchema)


class ResultsSchema(Schema):
    paid = fields.Integer()
    failed = fields.Integer()


class ReconcileItemSchema(Schema):
    payout_id = fields.Integer(allow_none=True)
    transfer_id = fields.String(allow_none=True)
    ledger = fields.Integer(metadata={"description": "Minor units the ledger shows paid out."})
    processor = fields.Integer(metadata={"description": "Minor units the processor shows paid."})


class ReconcileSchema(Schema):
    matched = fields.Integer()
    missing_at_processor = fields.List(fields.Nested(ReconcileItemSchema))
    missing_in_ledger = fields.List(fields.Nested(ReconcileItemSchema))
    amount_mismatch = fields.List(fields.Nested(ReconcileItemSchema))
