"""Small text helpers shared by the domains."""
from __future__ import annotations

import re
import unicodedata

# NUL is refused too: PostgreSQL cannot store it.
EMAIL_SHAPE = re.compile(r"^[^@\s\x00]+@[^@\s\x00]+\.[^@\s.\x00]+$")
#: PostgreSQL can't store NUL in text: inputs holding it are refused (422), never a 500.
NO_NUL = "Must not contain NUL characters."
SLUG_SHAPE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")


def slugify(text: str, max_length: int = 60) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].strip("-") or "org"


def is_email(value: str) -> bool:
    """Shape only (SPEC.md): `x@example.test` is valid; nothing is looked up."""
    return bool(EMAIL_SHAPE.match(value))


#: A cell starting with one of these is run as a formula by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(text: str | None) -> str:
    """A CSV cell of text someone else chose (a buyer's name on a contributor's statement) that a
    spreadsheet shows as text instead of running it: a leading quote before a formula start."""
    if not text:
        return ""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text
