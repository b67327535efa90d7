"""Marshmallow schemas of the personal-data endpoints."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.fields import String
from marketplace.pagination import PageArgs
from marketplace.pii.detector import TYPES


class FindingsArgs(PageArgs):
    type = String(load_default=None, validate=validate.OneOf(TYPES))


class FindingSchema(Schema):
    external_id = fields.String()
    type = fields.String()
    start = fields.Integer(metadata={"description": "Offset of the first character in the stored text."})
    end = fields.Integer(metadata={"description": "Offset one past the last character."})


class EvaluationSchema(Schema):
    fixture = fields.String()
    recall = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True))
    precision = fields.Float()
    precision_by_type = fields.Dict(keys=fields.String(), values=fields.Float(allow_none=True))
    clean_changed = fields.Float(metadata={"description": "Share of texts without personal data changed."})


class ScanReportSchema(Schema):
    dataset = fields.String()
    version = fields.String()
    detector = fields.String()
    detector_version = fields.Integer()
    records_scanned = fields.Integer()
    records_with_findings = fields.Integer()
    redaction = fields.String()
    findings = fields.Dict(keys=fields.String(), values=fields.Integer(),
                           metadata={"description": "Occurrences replaced in the export, per type."})
    kept = fields.Dict(keys=fields.String(), values=fields.Integer())
    allowed = fields.Integer()
    not_scanned = fields.List(fields.String())
    evaluation = fields.Nested(EvaluationSchema)


class RemovedSchema(Schema):
    records_with_findings = fields.Integer()
    findings = fields.Dict(keys=fields.String(), values=fields.Integer())
