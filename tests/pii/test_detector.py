"""The detector on the labelled fixture's held-out parts, and the usual false alarms.

`held_out_3` is the pristine part (written before detector 2, never tuned on; the report quotes
it); `held_out` was consulted once after detector 1. The goals hold on both."""
from __future__ import annotations

import pytest

from marketplace.pii import detector, evaluation

RECALL_GOALS = {"email": 0.95, "phone": 0.95, "ip_address": 0.95, "payment_card": 0.95, "iban": 0.95,
                "handle": 0.90}


@pytest.fixture(scope="module", params=["held_out", "held_out_3"])
def held_out(request):
    return evaluation.evaluate(evaluation.load(request.param), request.param)


def test_the_fixture_is_as_large_as_the_issue_asks():
    both = [item for part in evaluation.PARTS for item in evaluation.load(part)]
    planted = {kind: sum(1 for item in both for span in item["spans"] if span["type"] == kind)
               for kind in detector.TYPES}
    assert all(planted[kind] >= 40 for kind in RECALL_GOALS), planted
    assert planted["profile_url"] >= 20 and planted["street_address"] >= 20
    assert sum(1 for item in both if not item["spans"]) >= 150
    for item in both:  # the spans are exact
        for span in item["spans"]:
            assert item["text"][span["start"]:span["end"]] == span["value"]


@pytest.mark.parametrize("kind", sorted(RECALL_GOALS))
def test_held_out_recall_meets_the_goal(held_out, kind):
    assert held_out.planted[kind] >= 40
    assert held_out.found[kind] / held_out.planted[kind] >= RECALL_GOALS[kind], held_out.mistakes


def test_held_out_texts_without_personal_data_mostly_stay_unchanged(held_out):
    assert held_out.clean_texts >= 100
    assert held_out.clean_changed / held_out.clean_texts <= 0.10, held_out.mistakes


def test_held_out_precision(held_out):
    assert held_out.precision() >= 0.95, held_out.mistakes


@pytest.mark.parametrize("text", [
    "Updated the firmware to 4.4.2.2 and the wifi drops stopped.",
    "Router admin page is at 192.168.1.1, the NAS at 10.0.0.5, loopback 127.0.0.1:8080.",
    "Order #2024-000123 still says processing; invoice 2023-004567 was paid.",
    "ISBN 978-3-16-148410-0 is the second edition.",
    "The meeting is on 2024-05-01 at 14:30; price dropped to $1,299.99.",
    "Use @property instead of a getter; annotate with @Override.",
    "@staticmethod\ndef parse(value): ...",
    "Cross-posted to r/python and r/learnprogramming.",
    "Part number 4111 1111 1111 1112 is the old revision (Luhn-invalid).",
    "Anyone with an @gmail.com address gets filtered.",
    "IPv6 loopback ::1 and the documentation net 2001:db8::1.",
    "go to github.com/psf/requests for the source",
])
def test_usual_false_alarms_find_nothing(text):
    assert detector.scan(text) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("write me at Anna.Muller@GMAIL.com.", [("email", "Anna.Muller@GMAIL.com")]),
    ("call +44 20 7183 8750 or (415) 555-2671", [("phone", "+44 20 7183 8750"), ("phone", "(415) 555-2671")]),
    ("ssh 8.8.4.4:2222 or [2606:4700:4700::1111]:443", [("ip_address", "8.8.4.4"),
                                                        ("ip_address", "2606:4700:4700::1111")]),
    ("card 4242-4242-4242-4242 or 4242424242424242", [("payment_card", "4242-4242-4242-4242"),
                                                      ("payment_card", "4242424242424242")]),
    ("IBAN DE89 3704 0044 0532 0130 00 or GB82WEST12345698765432 thanks",
     [("iban", "DE89 3704 0044 0532 0130 00"), ("iban", "GB82WEST12345698765432")]),
    ("thanks @kate_w and /u/bob_smith", [("handle", "@kate_w"), ("handle", "u/bob_smith")]),
    ("see https://twitter.com/jdoe and reddit.com/u/bob", [("profile_url", "https://twitter.com/jdoe"),
                                                            ("profile_url", "reddit.com/u/bob")]),
])
def test_values_in_their_usual_forms_are_found_whole(text, expected):
    assert [(kind, text[start:end]) for kind, start, end in detector.scan(text)] == expected


@pytest.mark.parametrize(("text", "expected"), [
    # Detector 2: the forms held_out_2 missed, written with other values.
    ("card no 4000 0566 5566 5556 exp 11/27", [("payment_card", "4000 0566 5566 5556")]),
    ("my mastercard nr. 5200828282828210, don't tell", [("payment_card", "5200828282828210")]),
    ("visa 4012.8888.8888.1881 or amex 3714.496353.98431", [("payment_card", "4012.8888.8888.1881"),
                                                            ("payment_card", "3714.496353.98431")]),
    ("phone no. 07700 118342 after six", [("phone", "07700 118342")]),
    ("IBAN BE15 8671 0587 5630 (Belgian bank)", [("iban", "BE15 8671 0587 5630")]),  # a bank stdnum does not list
    ("dns 1.1.1.1 vs 9.9.9.9, or 8.8.8.8 and 4.2.2.2", [("ip_address", "1.1.1.1"), ("ip_address", "9.9.9.9"),
                                                        ("ip_address", "8.8.8.8"), ("ip_address", "4.2.2.2")]),
])
def test_detector_2_forms_are_found_whole(text, expected):
    assert [(kind, text[start:end]) for kind, start, end in detector.scan(text)] == expected


@pytest.mark.parametrize("text", [
    "In the film he calls (212) 555-0147 and nobody answers.",      # NANP 555-0100…0199
    "The sitcom's number was +44 20 7946 0321, a drama number.",    # Ofcom's drama range
    "Versions 1.2.3.4 and 1.2.3.5 differ only in the docs.",
    "Order no. 4000 0566 5566 5556 was refunded.",
    "Prices: 1.299.00, 2.499.00 and 3.999.00 in the sale.",
])
def test_detector_2_false_alarms_find_nothing(text):
    assert detector.scan(text) == []


@pytest.mark.parametrize(("text", "found"), [
    # Detector 3: a generic label doesn't make a valid card number anything else...
    ("account no 4111 1111 1111 1111, expires 09/28", True),
    ("acct # 4111111111111111", True),
    ("card id 5555555555554444 on file", True),
    ("ref 4012888888881881 for the deposit", True),
    # ...but the labels of numbers with check digits of their own still do.
    ("order no 4111111111111111 shipped", False),
    ("IMEI 490154203237518 on the box", False),
    ("tracking # 4012888888881881 at the depot", False),
])
def test_detector_3_labels_of_card_numbers(text, found):
    assert any(kind == "payment_card" for kind, _s, _e in detector.scan(text)) is found


def test_findings_are_ordered_and_never_overlap():
    text = "mail a@b.de, @a and https://github.com/a, 4242 4242 4242 4242 +49 30 901820"
    found = detector.scan(text)
    assert [f[1] for f in found] == sorted(f[1] for f in found)
    assert all(a[2] <= b[1] for a, b in zip(found, found[1:]))
