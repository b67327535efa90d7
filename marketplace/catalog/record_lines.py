"""What a line of a records import must hold, and why a line is refused.

`parse_record` is the one place that decides whether a record line is good and names its
bad field. `import_records` (importer.py) takes the plain line on a short path of its own,
inline for speed, built from the limits below; it must accept only lines `parse_record`
accepts, to the same values (pinned by tests/catalog/test_import_paths.py).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime

from marketplace.line_reader import LineError, readable_rows
from marketplace.regions import ISO_3166_ALPHA2
from marketplace.text import NO_NUL, has_nul

MAX_EXTERNAL_ID = 200
#: The longest text a record may have, in characters.
MAX_TEXT = 1_000_000
#: CSV fields may be as long as the longest text (Python's csv module stops at 131,072 by default);
#: a field longer still ends the reading of a CSV file with that line named.
csv.field_size_limit(max(csv.field_size_limit(), MAX_TEXT + 1))
#: The records.tokens column is 32-bit.
MAX_TOKENS = 2**31 - 1
TOKEN_DIGITS = len(str(MAX_TOKENS))
CSV_COLUMNS = ("external_id", "contributor_external_id", "contributor_region", "text", "created_at")

#: Each spelling of a region code that needs no more than `.upper()`: "US", "us", "Us", "uS".
REGION_SPELLINGS = {
    spelling: code
    for code in ISO_3166_ALPHA2
    for spelling in (code, code.lower(), code[0] + code[1].lower(), code[0].lower() + code[1])
}


def _utc(created_at: str) -> datetime:
    """Naive UTC from ISO 8601; the common "…Z" form skips the time-zone arithmetic.

    :raise ValueError: not ISO 8601. :raise OverflowError: out of years 1-9999 once in UTC.
    """
    if created_at[-1:] == "Z":
        moment = datetime.fromisoformat(created_at[:-1])
        if moment.tzinfo is None:
            return moment
    else:
        moment = datetime.fromisoformat(created_at)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def parse_record(obj) -> tuple[str, str, str, str, datetime, int]:
    """Check one decoded line; return (external_id, contributor id, region, text, time, tokens).

    :raise LineError: naming the first bad field.
    """
    if type(obj) is not dict:
        raise LineError(None, "Each line must be a JSON object.")
    external_id = obj.get("external_id")
    if type(external_id) is not str or not external_id or len(external_id) > MAX_EXTERNAL_ID:
        raise LineError("external_id", "Give a string of 1 to 200 characters.")
    if has_nul(external_id):
        raise LineError("external_id", NO_NUL)
    contributor = obj.get("contributor")
    if type(contributor) is not dict:
        raise LineError("contributor", "Give an object {external_id, region}.")
    contributor_id = contributor.get("external_id")
    if type(contributor_id) is not str or not contributor_id or len(contributor_id) > MAX_EXTERNAL_ID:
        raise LineError("contributor.external_id", "Give a string of 1 to 200 characters.")
    if has_nul(contributor_id):
        raise LineError("contributor.external_id", NO_NUL)
    region = contributor.get("region")
    if type(region) is not str or region.upper() not in ISO_3166_ALPHA2:
        raise LineError("contributor.region", f"Unknown region code {region!r}: use ISO 3166-1 alpha-2.")
    text = obj.get("text")
    if type(text) is not str or not text.strip():
        raise LineError("text", "Missing text." if text in (None, "") else "Give non-empty text.")
    if len(text) > MAX_TEXT:
        raise LineError("text", f"At most {MAX_TEXT:,} characters; this one has {len(text):,}.")
    if has_nul(text):
        raise LineError("text", NO_NUL)
    created_at = obj.get("created_at")
    if type(created_at) is not str:
        raise LineError("created_at", "Give an ISO 8601 timestamp, like 2024-05-01T12:00:00Z.")
    try:
        moment = _utc(created_at)
    except (ValueError, OverflowError):  # OverflowError: the offset moves it out of years 1-9999
        raise LineError("created_at", f"Bad timestamp {created_at!r}: use ISO 8601.") from None
    tokens = obj.get("tokens")
    if tokens is None:
        tokens = len(text.split())
    elif type(tokens) is not int or tokens < 0 or tokens > MAX_TOKENS:
        raise LineError("tokens", "Give a whole number of tokens, 0 or more.")
    return external_id, contributor_id, region.upper(), text, moment, tokens


def csv_objects(stream: io.TextIOBase) -> Iterator[tuple[int, object]]:
    """CSV with a header: external_id, contributor_external_id, contributor_region, text,
    created_at[, tokens]. Rows come out in the NDJSON shape so one checker serves both;
    a header missing a column yields one LineError object (line 1) and nothing else."""
    reader = csv.DictReader(stream)
    try:
        fieldnames = reader.fieldnames or []
    except csv.Error as error:  # the header itself past the field limit, or a NUL byte
        yield 1, LineError(None, f"Unreadable CSV header ({error}); nothing was read.")
        return
    missing = [c for c in CSV_COLUMNS if c not in fieldnames]
    if missing:
        yield 1, LineError(missing[0], f"The CSV header lacks the column {missing[0]!r}.")
        return
    for row in readable_rows(reader):
        if row is None:
            yield reader.reader.line_num, LineError(  # (the DictReader counts only rows it read)
                None, "Unreadable CSV (a field too long, a NUL byte or a quote left open); nothing after it was read.")
            return
        tokens = row.get("tokens")
        obj = {
            "external_id": row["external_id"],
            "contributor": {"external_id": row["contributor_external_id"], "region": row["contributor_region"]},
            "text": row["text"],
            "created_at": row["created_at"],
        }
        if tokens not in (None, ""):
            # (A number with more digits than MAX_TOKENS stays text, which the check refuses by
            # name: int() of thousands of digits raises.)
            digits = tokens.strip()
            obj["tokens"] = int(digits) if digits.isdecimal() and len(digits) <= TOKEN_DIGITS else tokens
        yield reader.line_num, obj
