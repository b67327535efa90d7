"""Small text helpers shared by the domains."""
from __future__ import annotations

import re
import unicodedata

#: The one character PostgreSQL can't keep in text, nor compare with (a query naming it fails).
NUL = "\x00"
#: Inputs holding NUL are refused with this message (422), never left to fail as a 500.
NO_NUL = "Must not contain NUL characters."
# NUL is refused too: PostgreSQL cannot store it.
EMAIL_SHAPE = re.compile(rf"^[^@\s{NUL}]+@[^@\s{NUL}]+\.[^@\s.{NUL}]+$")
SLUG_SHAPE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")


def has_nul(text: str) -> bool:
    """Whether `text` holds NUL, which the database can't store or look up (see `NUL`).

    The per-line loop of the records import tests `NUL in ...` inline instead: a call there costs.
    """
    return NUL in text


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
