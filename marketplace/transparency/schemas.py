"""The transparency reports as JSON (API.md "Catalog" and "Datasets…": the platform's report)."""
from __future__ import annotations

from marshmallow import Schema, fields

from marketplace.fields import UtcDateTime
from marketplace.licensing.schemas import MoneySchema


def _figures(obj):
    """The Figures of a report or a platform's dataset row, or the Figures themselves."""
    return getattr(obj, "figures", obj)


def _money(name: str, description: str) -> fields.Function:
    """A Figures amount as {amount, currency}."""
    return fields.Function(lambda obj: _figures(obj).money(name).as_dict(),
                           metadata={"description": description, "type": "object", "properties": {
                               "amount": {"type": "integer"}, "currency": {"type": "string"}}})


def _count(name: str, description: str) -> fields.Function:
    return fields.Function(lambda obj: getattr(_figures(obj), name),
                           metadata={"description": description, "type": "integer"})


class FiguresSchema(Schema):
    """Money net of refunds: gross = paid − refunded = the four shares' sum."""

    paid = _money("paid", "What buyers paid for the dataset's licenses.")
    refunded = _money("refunded", "What was refunded, or is held by open disputes.")
    gross = _money("gross", "paid − refunded; exactly marketplace_fees + to_platform + to_contributors + unallocated.")
    marketplace_fees = _money("marketplace_fees", "The marketplace's fee.")
    to_platform = _money("to_platform", "The platform's share.")
    to_contributors = _money("to_contributors", "Shared among the eligible contributors.")
    unallocated = _money("unallocated", "Contributors' pool of payments with nobody eligible: the "
                                        "dataset's unallocated account, never the platform's.")
    contributors_paid = _count("contributors_paid", "Contributors with a non-zero net share.")
    licenses_sold = _count("licenses_sold", "Licenses with money standing (not fully refunded).")


class ConsentCountsSchema(Schema):
    granted = fields.Integer(metadata={"description": "Granted every offered scope."})
    withdrawn = fields.Integer(metadata={"description": "Withdrew at least one offered scope."})
    default = fields.Integer(metadata={"description": "Neither: the dataset's policy decides for them."})
    default_included = fields.Integer(metadata={"description": "Of `default`, those the policy includes."})
    total = fields.Integer(metadata={"description": "Contributors with live records in the dataset."})


class BucketSchema(Schema):
    label = fields.String()
    low = fields.Nested(MoneySchema, data_key="from", metadata={"description": "Inclusive."})
    high = fields.Nested(MoneySchema, data_key="to", allow_none=True,
                         metadata={"description": "Exclusive; null for the open top bucket."})
    contributors = fields.Integer()


class TransparencySchema(FiguresSchema):
    """API.md's transparency report, plus extras (paid, refunded, histogram, eligibility)."""

    dataset = fields.Function(lambda report: report.dataset.slug, metadata={"type": "string"})
    licenses_by_scope = fields.Dict(keys=fields.String(), values=fields.Integer())
    payout_histogram = fields.List(fields.Nested(BucketSchema), metadata={
        "description": "Contributors by the size of their net share, in 1-2-5 steps of minor units."})
    offered_scopes = fields.List(fields.String())
    consent = fields.Nested(ConsentCountsSchema, metadata={
        "description": "Contributors with live records by their applying decisions for the offered scopes."})
    eligible_now_by_scope = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "Per offered scope: contributors of the latest version eligible now."})
    licenses_ack_overdue = fields.Integer(metadata={
        "description": "Licenses with a withdrawal older than ACK_OVERDUE_DAYS (default 30) not yet acknowledged."})


class PlatformDatasetSchema(FiguresSchema):
    slug = fields.Function(lambda row: row.dataset.slug, metadata={"type": "string"})
    title = fields.Function(lambda row: row.dataset.title, metadata={"type": "string"})
    status = fields.Function(lambda row: row.dataset.status, metadata={"type": "string"})
    published = fields.Function(lambda row: row.dataset.is_public, metadata={"type": "boolean"})
    consent = fields.Nested(ConsentCountsSchema)


class RecentSaleSchema(Schema):
    license_id = fields.Integer(allow_none=True)
    dataset = fields.String()
    buyer = fields.String(allow_none=True)
    scopes = fields.List(fields.String())
    paid = fields.Nested(MoneySchema)
    refunded = fields.Nested(MoneySchema)
    paid_at = UtcDateTime()


class PlatformReportSchema(Schema):
    datasets = fields.List(fields.Nested(PlatformDatasetSchema))
    totals = fields.Nested(FiguresSchema)
    balance = fields.Nested(MoneySchema, metadata={"description": "The platform's payable now."})
    allocations = fields.Integer(metadata={"description": "Payments allocated for the platform's datasets."})
    recent_sales = fields.List(fields.Nested(RecentSaleSchema))
