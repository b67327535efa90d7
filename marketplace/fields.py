"""Marshmallow fields shared by the domains' input schemas."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from marshmallow import fields, validate

from marketplace.text import NO_NUL, has_nul


class String(fields.String):
    """A string the database can store: NUL characters are refused (PostgreSQL can't keep them)."""

    default_error_messages: ClassVar[dict[str, str]] = {"nul": NO_NUL}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if has_nul(text):
            raise self.make_error("nul")
        return text


#: The largest id a row of a table with a plain integer key can have (licenses, offers, API keys…):
#: PostgreSQL's `integer` is 32-bit, and comparing it with a larger number fails in the database.
MAX_ID = 2**31 - 1
#: The largest id of a `db.BigId` key (ledger transactions, payout runs…): PostgreSQL's bigint.
MAX_BIG_ID = 2**63 - 1
#: The path converter for a `db.BigId` key: `f"/runs/<{BIG_ID}:run_id>"`.
BIG_ID = f"int(max={MAX_BIG_ID})"


class DatabaseId(fields.Integer):
    """A row's id in a body: a whole number from 1 to MAX_ID, or MAX_BIG_ID with `big=True` for a
    `db.BigId` key (a larger number can't name a row: a 422 naming the field, not a database error)."""

    def __init__(self, *, big: bool = False, **kwargs):
        kwargs.setdefault("strict", True)
        kwargs.setdefault("validate", validate.Range(min=1, max=MAX_BIG_ID if big else MAX_ID))
        super().__init__(**kwargs)


def utc_text(moment: datetime) -> str:
    """API.md's one way to write a moment: UTC, to the microsecond, with a Z
    ("2026-12-05T18:32:03.517344Z"). Naive values are UTC already (as the database keeps them)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds") + "Z"


class UtcDateTime(fields.DateTime):
    """A moment: written by `utc_text`; read as ISO 8601, an offset converted to UTC and none
    meaning UTC, to the naive UTC the database keeps."""

    default_error_messages: ClassVar[dict[str, str]] = {
        "range": "Out of range: the time must fall within years 1 to 9999 in UTC."}

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else utc_text(value)

    def _deserialize(self, value, attr, data, **kwargs):
        moment = super()._deserialize(value, attr, data, **kwargs)
        if moment.tzinfo is not None:
            try:
                moment = moment.astimezone(UTC).replace(tzinfo=None)
            except OverflowError:
                raise self.make_error("range") from None
        return moment
