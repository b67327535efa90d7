"""The records import's two paths agree: the inline plain-line path and `parse_record`.

`import_records` checks the plain line inline, for speed, and hands every other line to
`parse_record`, the one place that decides what a bad line is (`_careful_row`). The short
path may only take lines `parse_record` accepts, and must store them as `parse_record`
would. Each generated file (NDJSON lines, or objects as the demo and the tests pass them)
goes through the import, each line on whichever path it takes, and through `parse_record`
line by line: the import refuses exactly the lines `parse_record` refuses, for the same
field and message, and when it refuses none, the rows in the database are `parse_record`'s,
in the form the writer stores.
"""
from __future__ import annotations

import json
from collections import Counter, OrderedDict
from datetime import datetime

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text as sql

from marketplace.catalog import importer
from marketplace.catalog.record_lines import MAX_TOKENS, REGION_SPELLINGS
from marketplace.catalog.record_writer import sqlite_text
from marketplace.extensions import db
from tests import factories
from tests.catalog.helpers import dataset_row

#: A field left out of the line.
MISSING = object()
NUL = "\x00"

# ---- what goes in a line: plain values (the short path's), unusual good ones, odd ones -------
# Every check of the short path also has its edges in EDGES, below: each one is tried every run.

plain_ids = st.one_of(
    st.text("abcdefghijklmnopqrstuvwxyz0123456789-_:/", min_size=1, max_size=40),
    st.text(min_size=1, max_size=40).filter(lambda t: NUL not in t),
)
non_strings = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                        st.lists(st.integers(), max_size=2),
                        st.dictionaries(st.text(max_size=2), st.integers(), max_size=1))
with_nul = st.tuples(st.text(max_size=5), st.text(max_size=5)).map(NUL.join)
odd_ids = st.one_of(
    with_nul, st.text(max_size=10), non_strings, st.just(MISSING),
    # Around the 200-character limit, in one- and multi-byte characters.
    st.tuples(st.sampled_from("xé\U0001f600"), st.integers(198, 202)).map(lambda c_n: c_n[0] * c_n[1]),
)

plain_regions = st.sampled_from(sorted(REGION_SPELLINGS))
odd_regions = st.one_of(st.text(max_size=3), non_strings, st.just(MISSING))

SENTENCES = ["post number 7 about things", "one", "  padded  words\tand\nlines ", "日本語のテキスト",
             "emoji 😀 and combining e\u0301", "zero\u200bwidth", "\u200b", "\ufeff", "x" * 300]
plain_texts = st.one_of(st.sampled_from(SENTENCES),
                        st.text(min_size=1, max_size=60).filter(lambda t: t.strip() and NUL not in t))
#: Whitespace to str.isspace and str.strip (\u200b and \ufeff only look like it: see SENTENCES).
SPACES = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2028\u3000"
odd_texts = st.one_of(st.text(SPACES, min_size=1, max_size=4), with_nul, st.text(max_size=20),
                      non_strings, st.just(MISSING))

moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))
plain_times = moments.map(lambda moment: moment.isoformat(timespec="seconds") + "Z")
TEMPLATE = "YYYY-MM-DDTHH:MM:SSZ"
#: The short path's own shape, 20 characters, each slot mostly right and sometimes not.
shaped_times = st.tuples(*[
    st.sampled_from([slot] * 8 + ["t", "z", " ", "/", "0"]) if slot in "-T:Z"
    else st.sampled_from(list("0123456789") * 3 + ["٣", "０", " ", "+", "-", "x"])
    for slot in TEMPLATE
]).map("".join)
OFFSETS = ["Z", "z", "", "+00:00", "-00:00", "+02:00", "-01:00", "+14:00", "-23:59", "+05:30:15", "+0200",
           "+24:00", " Z"]
offset_times = st.builds(
    lambda moment, spec, separator, offset: moment.isoformat(separator, spec) + offset,
    moments, st.sampled_from(["hours", "minutes", "seconds", "milliseconds", "microseconds"]),
    st.sampled_from(["T", " ", "t"]), st.sampled_from(OFFSETS))
odd_times = st.one_of(shaped_times, offset_times, st.text(max_size=25), non_strings, st.just(MISSING))

plain_tokens = st.one_of(st.just(MISSING), st.none(), st.integers(0, MAX_TOKENS))
odd_tokens = st.one_of(st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=3), non_strings)

FIELDS = {
    "external_id": (plain_ids, odd_ids),
    "contributor.external_id": (plain_ids, odd_ids),
    "contributor.region": (plain_regions, odd_regions),
    "text": (plain_texts, odd_texts),
    "created_at": (plain_times, odd_times),
    "tokens": (plain_tokens, odd_tokens),
}
#: Good lines the short path passes on: a time not in its one shape, a region .upper() makes a code.
UNUSUAL_BUT_GOOD = {
    "created_at": st.builds(
        lambda moment, spec, offset: moment.isoformat("T", spec) + offset,
        st.datetimes(min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31)),
        st.sampled_from(["minutes", "seconds", "milliseconds", "microseconds"]),
        st.sampled_from(["", "+00:00", "+02:00", "-01:00", "+14:00", "-23:59", "+05:30:15"])),
    "contributor.region": st.sampled_from(["ﬅ", "uſ", "ıt", "Uſ"]),
}

#: A plain line, and values that sit on each check of the short path, one field at a time.
PLAIN = factories.record(1)
EDGES = [
    *[(field, value)
      for field in ("external_id", "contributor.external_id")
      for value in ["", NUL, "r\x00", "x" * 200, "x" * 201, "😀" * 200, "😀" * 201, 7, None, ["r1"], MISSING]],
    # An OrderedDict is a mapping but not a dict: refused (only the demo and tests pass objects).
    *[("contributor", value)
      for value in [None, "u1", ["u1", "US"], {}, OrderedDict(PLAIN["contributor"]), MISSING]],
    # Not a code; a code in disguise; or what .upper() turns into a code ("ﬅ" → "ST", "uſ" → "US").
    *[("contributor.region", value)
      for value in ["xx", "XX", "USA", "U", "", " US", "U\x00", "ＵＳ", "ﬅ", "uſ", "ıt", 1, None, MISSING]],
    *[("text", value) for value in ["", " ", "\t\n", "\u3000\x85", "\x1c", "a\x00b", NUL, "words\x00",
                                    "\u200b", "\ufeff", 5, None, ["text"], MISSING]],
    *[("created_at", value) for value in [
        "2024-05-01T12:00:00+02:00", "2024-05-01T12:00:00+00:00", "2024-05-01T12:00:00", "2024-05-01",
        "2024-05-01T12:00:00z", "2024-05-01 12:00:00Z", "2024-05-01t12:00:00Z", "2024-05-01T12:00:00.5Z",
        "2024-05-01T12:00Z", "2024-13-01T12:00:00Z", "2024-02-30T12:00:00Z", "2024-05-01T24:00:00Z",
        "2024-05-01T12:00:60Z", "٢٠٢٤-05-01T12:00:00Z", "2024-05-01T12:00:0 Z", "+024-05-01T12:00:00Z",
        "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "0000-01-01T00:00:00Z", "Z", "",
        1714564800, None, MISSING]],
    *[("tokens", value) for value in [None, 0, MAX_TOKENS, -1, MAX_TOKENS + 1, 2**63, 2**64, 2**70,
                                      -(2**70), True, False, 1.0, 5.5, "5", [5], MISSING]],
]


def with_edge(record: dict, field: str, value) -> dict:
    """`record` with one field (a dotted path) set to `value`, or left out if it is MISSING."""
    changed = {**record, "contributor": dict(record["contributor"])}
    *parents, name = field.split(".")
    holder = changed[parents[0]] if parents else changed
    holder[name] = value
    return _without_missing(changed)


GOOD_KINDS = ["plain", "unusual but good"]
ALL_KINDS = [*GOOD_KINDS, "one edge", "one edge", "one odd field", "anything"]


@st.composite
def records(draw, kinds: list[str]) -> object:
    """A record object: plain; good but not plain; plain but for one edge or odd field; anything."""
    kind = draw(st.sampled_from(kinds))
    if kind == "one edge":
        return with_edge(draw(records(["plain"])), *draw(st.sampled_from(EDGES)))
    odd_one = draw(st.sampled_from([*FIELDS, "contributor"])) if kind == "one odd field" else None
    unusual = draw(st.sampled_from(sorted(UNUSUAL_BUT_GOOD))) if kind == "unusual but good" else None
    values = {}
    for name, (plain, odd) in FIELDS.items():
        odd_now = name == odd_one or (kind == "anything" and draw(st.booleans()))
        values[name] = draw(UNUSUAL_BUT_GOOD[name] if name == unusual else odd if odd_now else plain)
    contributor = {"external_id": values.pop("contributor.external_id"),
                   "region": values.pop("contributor.region")}
    if odd_one == "contributor" or (kind == "anything" and draw(st.booleans())):
        contributor = draw(st.one_of(non_strings, st.text(max_size=3), st.just(MISSING)))
    obj = {"contributor": contributor, **values}
    if draw(st.booleans()):
        obj["extra"] = draw(non_strings)
    return _without_missing(obj)


def _without_missing(value):
    if type(value) is dict:  # not a subclass: an OrderedDict must stay one
        return {key: _without_missing(item) for key, item in value.items() if item is not MISSING}
    return value


def _decoded(obj, ascii_only: bool) -> object:
    """`obj` as import_records gets it from an NDJSON line: the decoded object, or the LineError."""
    # Written by the standard library, not orjson: it writes integers past 64 bits and NaN, which
    # orjson reads as floats or refuses.
    return _read_line(json.dumps(obj, ensure_ascii=ascii_only).encode())


def _read_line(line: bytes) -> object:
    ((_number, obj),) = importer.ndjson_objects([line])
    return obj


RAW_LINES = [b"{", b"[1, 2", b"\xff\xfe", b'{"external_id": "r1"}\x00', b'{"a": 1}{"b": 2}', b"nul\x00",
             b'{"text": "\\ud800"}', b'"just a string"', b"null", b"42", b"[]", b"\x00"]


def lines(kinds: list[str]) -> st.SearchStrategy:
    """One line's object: decoded from NDJSON (sometimes not a record, or not JSON), or as given."""
    decoded = st.builds(_decoded, records(kinds), st.booleans())
    if kinds == GOOD_KINDS:
        return st.one_of(decoded, records(kinds))
    not_records = st.one_of(st.builds(_decoded, st.one_of(non_strings, st.text(max_size=5)), st.booleans()),
                            st.sampled_from(RAW_LINES).map(_read_line))
    return st.one_of(decoded, records(kinds), not_records)


#: A file: every line good (so its rows are stored and compared), or any lines.
files = st.one_of(st.lists(lines(GOOD_KINDS), min_size=1, max_size=8),
                  st.lists(lines(ALL_KINDS), min_size=1, max_size=8))

# ---- the two paths ----------------------------------------------------------------------------


def by_parse_record(objects: list, sqlite: bool) -> tuple:
    """("refused", [(line, field, message)]) or ("stored", {external id: row}), from parse_record.

    A repeated external id: the last line wins. A contributor named again: their last region wins.
    """
    refused, rows, regions = [], {}, {}
    for number, obj in enumerate(objects, start=1):
        try:
            if isinstance(obj, importer.LineError):  # undecodable
                raise obj
            external_id, contributor, region, text, moment, tokens = importer.parse_record(obj)
        except importer.LineError as error:
            refused.append((number, error.field, error.message))
            continue
        rows[external_id] = (contributor, text, sqlite_text(moment) if sqlite else moment, tokens)
        regions[contributor] = region
    if refused:
        return "refused", refused
    return "stored", {external_id: (external_id, contributor, regions[contributor], text, moment, tokens)
                      for external_id, (contributor, text, moment, tokens) in rows.items()}


def by_import(dataset, objects: list) -> tuple:
    """The same, from import_records: its refusals, or what the database holds. Rolled back."""
    savepoint = db.session.begin_nested()
    try:
        importer.import_records(db.session, dataset, list(enumerate(objects, start=1)))
    except importer.ImportRejected as rejected:
        return "refused", [(line["line"], line["field"], line["message"])
                           for line in rejected.errors["lines"]]
    else:
        rows = db.session.execute(sql(
            "SELECT r.external_id, c.external_id, c.region, r.text, r.created_at, r.tokens "
            "FROM records r JOIN contributors c ON c.id = r.contributor_id WHERE r.dataset_id = :dataset"),
            {"dataset": dataset.id}).all()
        return "stored", {row[0]: tuple(row) for row in rows}
    finally:
        savepoint.rollback()


@pytest.fixture
def dataset(client, platform):
    return dataset_row(factories.create_dataset(client, platform)["slug"])


@pytest.fixture
def careful_lines(monkeypatch) -> list:
    """The objects import_records hands to the careful path (the others took the short one)."""
    careful, taken = importer._careful_row, []

    def spy(obj, sqlite):
        taken.append(obj)
        return careful(obj, sqlite)

    monkeypatch.setattr(importer, "_careful_row", spy)
    return taken


def _is_sqlite() -> bool:
    return db.session.connection().dialect.name == "sqlite"


def test_both_paths_refuse_the_same_lines_and_store_the_same_rows(dataset, careful_lines):
    sqlite = _is_sqlite()
    seen = Counter()

    # derandomize: the same files every run, so the coverage count below is stable, not a dice roll.
    # (Stable for one codebase only: an unrelated change moved the smallest count from 39 to 17
    # at 200 examples; at 400 it is 60, well clear of the 20 asked for.)
    @settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(files)
    def both_paths_agree(objects):
        careful_lines.clear()
        outcome = by_import(dataset, objects)
        assert outcome == by_parse_record(objects, sqlite)
        careful = sum(any(obj is taken for taken in careful_lines) for obj in objects)
        seen["short path", outcome[0]] += len(objects) - careful
        seen["careful path", outcome[0]] += careful

    # Every edge, every run, besides the generated files: as given, and through NDJSON.
    for field, value in EDGES:
        line = with_edge(PLAIN, field, value)
        both_paths_agree = example([line, _decoded(line, False)])(both_paths_agree)
    both_paths_agree = example([OrderedDict(PLAIN)])(both_paths_agree)
    both_paths_agree()
    # Not vacuous: many lines of stored files took each path, and many went into refused files.
    assert min(seen.values()) >= 20 and len(seen) == 4, seen


@pytest.mark.parametrize("line", [
    factories.record(1),
    factories.record(2, region="fr", tokens=0, text="zero\u200bwidth"),
    factories.record(3, text="日本語 😀", created_at="0001-01-01T00:00:00Z", tokens=MAX_TOKENS),
])
def test_a_plain_line_takes_the_short_path(dataset, careful_lines, line):
    outcome = by_import(dataset, [line])
    assert careful_lines == []
    assert outcome == by_parse_record([line], _is_sqlite())


@pytest.mark.parametrize("line", [
    factories.record(1, created_at="2024-05-01T12:00:00+02:00"),
    factories.record(2, region="ﬅ"),
    factories.record(3, tokens=True),
])
def test_a_line_out_of_the_ordinary_takes_the_careful_path(dataset, careful_lines, line):
    outcome = by_import(dataset, [line])
    assert careful_lines == [line]
    assert outcome == by_parse_record([line], _is_sqlite())
