"""The statement's inputs (filters, page) and outputs, for the API and the web page alike."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from marketplace.fields import String, UtcDateTime
from marketplace.licensing.schemas import MoneySchema
from marketplace.pagination import PageArgs


class StatementFilterArgs(Schema):
    start = fields.Date(data_key="from", load_default=None,
                        metadata={"description": "First day (UTC, YYYY-MM-DD) of the lines to list."})
    end = fields.Date(data_key="to", load_default=None,
                      metadata={"description": "Last day (UTC, YYYY-MM-DD, included) of the lines to list."})
    dataset = String(load_default=None, validate=validate.Length(min=1, max=80),
                     metadata={"description": "Only the lines of this dataset (slug)."})

    @validates_schema
    def _from_before_to(self, data, **_kwargs):
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise ValidationError("Must not be before from.", "to")


class StatementArgs(PageArgs, StatementFilterArgs):
    pass


class StatementLineSchema(Schema):
    transaction_id = fields.Integer(metadata={"description": "The ledger transaction: GET /api/v1/me/ledger/{id}."})
    license_id = fields.Integer(allow_none=True)
    dataset = fields.String(metadata={"description": "The dataset's slug."})
    dataset_title = fields.String()
    buyer = fields.String(allow_none=True, metadata={"description": "The buyer organization's name."})
    scopes = fields.List(fields.String())
    amount = fields.Nested(MoneySchema)
    kind = fields.String(metadata={"description": '"allocation" (a payment) or "reversal" (refund, dispute).'})
    created_at = UtcDateTime()


class ContributorStatementSchema(Schema):
    balance = fields.Nested(MoneySchema, metadata={"description": "Lifetime minus paid out."})
    lifetime = fields.Nested(MoneySchema, metadata={"description": "The sum of every line, not only this page."})
    paid_out = fields.Nested(MoneySchema)
    items = fields.List(fields.Nested(StatementLineSchema))
    total = fields.Integer(metadata={"description": "Lines the filters keep."})
    page = fields.Integer()
    per_page = fields.Integer()


class LedgerEntryOfMineSchema(Schema):
    entry_id = fields.Integer()
    platform = fields.String()
    external_id = fields.String(metadata={"description": "Your identity on that platform."})
    amount = fields.Nested(MoneySchema)
    weight = fields.Integer(allow_none=True)
    tiebreak = fields.String(allow_none=True)


class AllocationShareSchema(Schema):
    platform = fields.String()
    external_id = fields.String()
    weight = fields.Integer()
    tiebreak = fields.String()
    allocated = fields.Nested(MoneySchema, metadata={"description": "What the payment credited."})
    now = fields.Nested(MoneySchema, metadata={"description": "After every reversal so far."})


class AllocationPostingSchema(Schema):
    transaction_id = fields.Integer()
    kind = fields.String()
    created_at = UtcDateTime()
    refunded_total = fields.Integer(allow_none=True)
    amount = fields.Nested(MoneySchema, metadata={"description": "Your part of this posting."})


class AllocationFactsSchema(Schema):
    id = fields.Integer()
    license_id = fields.Integer(allow_none=True)
    dataset = fields.String()
    dataset_title = fields.String()
    buyer = fields.String(allow_none=True)
    scopes = fields.List(fields.String())
    paid_at = UtcDateTime()
    gross = fields.Nested(MoneySchema)
    fee_bps = fields.Integer()
    contributor_share_bps = fields.Integer()
    fee = fields.Nested(MoneySchema)
    to_platform = fields.Nested(MoneySchema)
    pool = fields.Nested(MoneySchema)
    unallocated = fields.Nested(MoneySchema)
    weighting = fields.String()
    total_weight = fields.Integer()
    eligible_count = fields.Integer()
    shares = fields.List(fields.Nested(AllocationShareSchema))
    history = fields.List(fields.Nested(AllocationPostingSchema))


class LedgerTransactionOfMineSchema(Schema):
    transaction_id = fields.Integer()
    kind = fields.String()
    created_at = UtcDateTime()
    idempotency_key = fields.String()
    reverses_id = fields.Integer(allow_none=True)
    refunded_total = fields.Integer(allow_none=True, metadata={
        "description": "Reversals: the payment's cumulative refunded amount every share now reflects."})
    entries = fields.List(fields.Nested(LedgerEntryOfMineSchema),
                          metadata={"description": "Only your identities' entries."})
    allocation = fields.Nested(AllocationFactsSchema, allow_none=True)
