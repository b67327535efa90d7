"""redact(): text outside the spans unchanged; one value, one pseudonym per license; keep and allow."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from marketplace.pii import detector
from marketplace.pii.redaction import license_key, normalise, pseudonym, redact

KEY_A = license_key("secret", 1)
KEY_B = license_key("secret", 2)
TYPES = st.sampled_from(detector.TYPES)
PLAIN = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="<>"), max_size=30)


@st.composite
def texts_with_spans(draw):
    """A text of plain pieces and values, with the values' spans."""
    pieces = draw(st.lists(st.tuples(PLAIN, TYPES, st.text(min_size=1, max_size=20)), max_size=6))
    tail = draw(PLAIN)
    text, spans = "", []
    for plain, kind, value in pieces:
        text += plain
        spans.append((kind, len(text), len(text) + len(value)))
        text += value
    return text + tail, spans, pieces, tail


@settings(max_examples=300, deadline=None)
@given(texts_with_spans(), st.sampled_from(["placeholder", "pseudonym"]))
def test_text_outside_the_spans_is_unchanged(case, mode):
    text, spans, pieces, tail = case
    redacted = redact(text, spans, mode, KEY_A)
    # Rebuild what the result must be from the pieces alone.
    expected = "".join(plain + (f"<{kind.upper()}>" if mode == "placeholder" else pseudonym(kind, value, KEY_A))
                       for plain, kind, value in pieces) + tail
    assert redacted == expected


@settings(max_examples=200, deadline=None)
@given(texts_with_spans())
def test_kept_types_and_allowed_values_stay_as_written(case):
    text, spans, pieces, _tail = case
    keep = {"handle", "profile_url"}
    allow = {value for _plain, kind, value in pieces[::2]}
    redacted = redact(text, spans, "placeholder", None, keep=keep, allow=allow)
    for _plain, kind, value in pieces:
        if kind in keep or value in allow:
            assert value in redacted
    replaced = sum(1 for _p, kind, value in pieces if kind not in keep and value not in allow)
    assert len(re.findall(r"<[A-Z_]+>", redacted)) >= replaced


@settings(max_examples=200, deadline=None)
@given(st.emails())
def test_one_email_one_pseudonym_per_license_whatever_its_case(email):
    first = f"write {email} now"
    second = f"{email.upper()} again"
    a1 = redact(first, [("email", 6, 6 + len(email))], "pseudonym", KEY_A)
    a2 = redact(second, [("email", 0, len(email))], "pseudonym", KEY_A)
    b1 = redact(first, [("email", 6, 6 + len(email))], "pseudonym", KEY_B)
    token = a1[6:-4]
    assert re.fullmatch(r"<EMAIL_[0-9a-f]{8}>", token)
    assert a2 == f"{token} again"
    assert b1[6:-4] != token


def test_placeholders_by_type_and_the_normal_forms_pseudonyms_use():
    text = "Mail ME@X.DE, call +44 20 7183 8750, card 4242-4242-4242-4242, iban DE89 3704 0044 0532 0130 00"
    spans = detector.scan(text)
    assert redact(text, spans) == ("Mail <EMAIL>, call <PHONE>, card <PAYMENT_CARD>, iban <IBAN>")
    assert normalise("phone", "020 7183 8750") == normalise("phone", "+44 20 7183 8750") == "+442071838750"
    assert normalise("payment_card", "4242-4242-4242-4242") == "4242424242424242"
    assert normalise("iban", "de89 3704 0044 0532 0130 00") == "DE89370400440532013000"
    assert pseudonym("phone", "+44 20 7183 8750", KEY_A) == pseudonym("phone", "0044 20 7183 8750", KEY_A)


def test_pseudonyms_need_a_key_and_spans_must_not_overlap():
    with pytest.raises(ValueError):
        redact("a@b.de", [("email", 0, 6)], "pseudonym", None)
    with pytest.raises(ValueError):
        redact("abcdef", [("email", 0, 4), ("phone", 2, 6)])
    with pytest.raises(ValueError):
        redact("abc", [("email", 0, 4)])
