"""Delivery's JSON at the edge (API.md "Licenses, payment, delivery")."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from marketplace.fields import UtcDateTime
from marketplace.pagination import PageArgs

VERSION_NUMBER = validate.Regexp(r"^\d{1,9}\.\d{1,9}\.\d{1,9}$", error="Must be a version number like 1.2.0.")


class DownloadCreateSchema(Schema):
    version = fields.String(validate=VERSION_NUMBER, metadata={
        "description": "A version the license covers; default the latest it covers."})
    since_version = fields.String(validate=VERSION_NUMBER, metadata={
        "description": "An earlier covered version: only what changed since it, with tombstones."})


class DownloadSchema(Schema):
    url = fields.String(metadata={"description": "The export (JSONL); signed, expires at expires_at."})
    manifest_url = fields.String(metadata={"description": "Its manifest; signed, expires at expires_at."})
    expires_at = UtcDateTime()
    version = fields.String()
    since_version = fields.String(allow_none=True)


class LeftOutSchema(Schema):
    withdrawn = fields.Integer(metadata={"description": "Contributor withdrew a scope of the license."})
    erased = fields.Integer(metadata={"description": "Erased at the contributor's request."})
    taken_down = fields.Integer(metadata={"description": "Taken down by the platform."})
    region = fields.Integer(metadata={"description": "Contributor in an opt-in region who has not granted."})
    not_granted = fields.Integer(metadata={"description": "Opt-in dataset, contributor has not granted."})


class ManifestSchema(Schema):
    license_id = fields.Integer()
    version = fields.String()
    since_version = fields.String(allow_none=True)
    records = fields.Integer(metadata={"description": "Record lines (canaries and tombstones not counted)."})
    deleted = fields.Integer(metadata={"description": "Tombstone lines of a since_version export."})
    bytes = fields.Integer(metadata={"description": "Bytes of the uncompressed body."})
    sha256 = fields.String(metadata={"description": "Hex SHA-256 of the uncompressed body."})
    left_out = fields.Nested(LeftOutSchema, metadata={
        "description": "Records of the version left out of this export, by why."})
    generated_at = UtcDateTime()


class LoggedDownloadSchema(Schema):
    id = fields.Integer()
    at = UtcDateTime()
    user = fields.String(allow_none=True)
    version = fields.String()
    since_version = fields.String(allow_none=True)
    bytes = fields.Integer()
    records = fields.Integer()
    sha256 = fields.String(allow_none=True)
    complete = fields.Boolean()


class DownloadLogArgs(PageArgs):
    """API.md's list arguments."""


class DownloadLogSchema(Schema):
    items = fields.List(fields.Nested(LoggedDownloadSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


class WithdrawalArgs(PageArgs):
    since = UtcDateTime(metadata={"description": "Only withdrawals after this time (ISO 8601)."})


class WithdrawalSchema(Schema):
    external_id = fields.String()
    withdrawn_at = UtcDateTime()
    reason = fields.String(metadata={"enum": ["consent_withdrawn", "erased", "taken_down"]})


class WithdrawalPageSchema(Schema):
    items = fields.List(fields.Nested(WithdrawalSchema))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()
    acknowledged_through = UtcDateTime(allow_none=True)


class AckCreateSchema(Schema):
    through = UtcDateTime(required=True, metadata={
        "description": "Every withdrawal up to this time is deleted (ISO 8601; UTC when no offset)."})


class AckSchema(Schema):
    acknowledged_through = UtcDateTime()
