"""Marshmallow fields shared by the domains' input schemas."""
from __future__ import annotations

from typing import ClassVar

from marshmallow import fields

from marketplace.text import NO_NUL, has_nul


class String(fields.String):
    """A string the database can store: NUL characters are refused (PostgreSQL can't keep them)."""

    default_error_messages: ClassVar[dict[str, str]] = {"nul": NO_NUL}

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if has_nul(text):
            raise self.make_error("nul")
        return text
