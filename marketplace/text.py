"""Small text helpers shared by the domains."""
from __future__ import annotations

import re
import unicodedata

EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
SLUG_SHAPE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")


def slugify(text: str, max_length: int = 60) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].strip("-") or "org"


def is_email(value: str) -> bool:
    """Shape only (SPEC.md): `x@example.test` is valid; nothing is looked up."""
    return bool(EMAIL_SHAPE.match(value))
