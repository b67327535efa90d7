"""Redaction from stored spans: typed placeholders, or typed pseudonyms per license.

A pure function over a record's text and its findings (type, start, end); the export
stream (delivery) calls it for each record. Pseudonyms are an HMAC-SHA256 keyed per
license over the normalised value, so one value reads the same throughout a license's
exports and deltas, and differently for another license (SPEC.md "Personal data in records").
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Collection, Iterable

import phonenumbers

from marketplace.pii.detector import PHONE_REGIONS

PLACEHOLDER = "placeholder"
PSEUDONYM = "pseudonym"
#: Hex characters of the HMAC a pseudonym shows (32 bits: `<EMAIL_5f2c9a1b>`).
PSEUDONYM_HEX = 8


def license_key(secret: str | bytes, license_id: int) -> bytes:
    """The pseudonym key of one license, derived from the installation's secret."""
    secret = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(secret, f"dividend/pii-pseudonym/license/{int(license_id)}".encode(),
                    hashlib.sha256).digest()


def _phone_e164(value: str) -> str:
    text = "+" + value[2:] if value.startswith("00") else value
    for region in (None, *PHONE_REGIONS) if text.lstrip("(").startswith("+") else PHONE_REGIONS:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return "+" + re.sub(r"\D", "", value)


def normalise(kind: str, value: str) -> str:
    """The form a pseudonym is computed over: lower-cased e-mail, E.164 phone, the digits of a
    card, the compact upper-case IBAN, the compressed IP address, a lower-cased handle or link."""
    if kind == "email":
        return value.lower()
    if kind == "phone":
        return _phone_e164(value)
    if kind == "payment_card":
        return re.sub(r"\D", "", value)
    if kind == "iban":
        return re.sub(r"[^0-9A-Za-z]", "", value).upper()
    if kind == "ip_address":
        try:
            return ipaddress.ip_address(value).compressed
        except ValueError:
            return value.lower()
    if kind == "handle":
        return value.lstrip("/").lower()
    if kind == "profile_url":
        return re.sub(r"^(?:https?://)?(?:www\.|m\.)?", "", value.lower()).rstrip("/")
    return " ".join(value.lower().split())


def pseudonym(kind: str, value: str, key: bytes) -> str:
    """`<EMAIL_5f2c9a1b>`: the type and the first hex digits of HMAC(key, type:normalised value)."""
    digest = hmac.new(key, f"{kind}:{normalise(kind, value)}".encode(), hashlib.sha256).hexdigest()
    return f"<{kind.upper()}_{digest[:PSEUDONYM_HEX]}>"


def redact(
    text: str,
    spans: Iterable[tuple[str, int, int]],
    mode: str = PLACEHOLDER,
    license_key: bytes | None = None,
    keep: Collection[str] = (),
    allow: Collection[str] = (),
) -> str:
    """`text` with each span (type, start, end) replaced by `<TYPE>` (mode "placeholder") or by
    its pseudonym under `license_key` (mode "pseudonym"); spans of a type in `keep`, and spans
    whose exact value is in `allow`, stay as written. Text outside the spans is unchanged.

    :raise ValueError: pseudonyms without a license key, an unknown mode, or spans that overlap
        or fall outside the text.
    """
    if mode not in (PLACEHOLDER, PSEUDONYM):
        raise ValueError(f"Unknown redaction mode {mode!r}.")
    if mode == PSEUDONYM and not license_key:
        raise ValueError("Pseudonyms need the license's key.")
    pieces, at = [], 0
    for kind, start, end in sorted(spans, key=lambda span: span[1]):
        if start < at or end > len(text) or start >= end:
            raise ValueError(f"Span {kind} {start}-{end} overlaps another or leaves the text.")
        value = text[start:end]
        if kind in keep or value in allow:
            continue
        pieces.append(text[at:start])
        pieces.append(f"<{kind.upper()}>" if mode == PLACEHOLDER else pseudonym(kind, value, license_key))
        at = end
    if not pieces:
        return text
    pieces.append(text[at:])
    return "".join(pieces)
