"""Hypothesis on the bulk imports (records NDJSON, consent NDJSON) and the payout results CSV:
malformed bytes, wrong types, huge numbers and unicode edge cases (lone surrogates, NUL, BOM,
RTL) are a 4xx whose message names the line, and nothing is written (rows counted before and
after)."""
from __future__ import annotations

import json

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from marketplace.catalog.models import Contributor, Record
from marketplace.consent.models import Consent
from marketplace.extensions import db
from marketplace.payouts.models import Payout, PayoutRun
from tests import factories
from tests.asserts import assert_error
from tests.ledger.test_check import admin_key
from tests.unicode_edges import AWKWARD_TEXT, json_bytes, json_values

FUZZ = settings(max_examples=25, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def rows() -> tuple[int, ...]:
    return tuple(db.session.scalar(select(func.count()).select_from(model))
                 for model in (Record, Contributor, Consent, Payout, PayoutRun))


def a_bad_record():
    """A record line with one field made wrong: a wrong type, a huge number, awkward text."""
    good = factories.record(1)
    field = st.sampled_from(["external_id", "contributor", "text", "created_at", "tokens", "region"])
    return st.tuples(field, json_values | AWKWARD_TEXT).map(lambda pair: _spoil(good, *pair))


def _spoil(line: dict, field: str, value) -> dict:
    line = json.loads(json.dumps(line))
    if field == "region":
        line["contributor"]["region"] = value
    else:
        line[field] = value
    return line


def raw_lines():
    """Lines as bytes: JSON of awkward values, or bytes that are no JSON (or no UTF-8) at all."""
    return st.one_of(json_values.map(json_bytes), a_bad_record().map(json_bytes), st.binary(max_size=80),
                     AWKWARD_TEXT.map(lambda s: s.encode("utf-8", "surrogatepass")),
                     st.just(b"\xef\xbb\xbf" + orjson.dumps(factories.record(9))))


def _is_good_record(line: bytes) -> bool:
    from marketplace.catalog.record_lines import parse_record

    try:
        parse_record(orjson.loads(line))
    except Exception:
        return False
    return True


@FUZZ
@given(lines=st.lists(raw_lines(), min_size=1, max_size=4))
def test_a_records_import_with_bad_lines_names_them_and_writes_nothing(client, platform, lines):
    slug = factories.create_dataset(client, platform)["slug"]
    body = b"\n".join(lines) + b"\n"
    before = rows()
    response = client.post(f"/api/v1/datasets/{slug}/records", data=body,
                           headers={**platform["headers"], "Content-Type": "application/x-ndjson"})
    if response.status_code == 200:  # every line happened to be a good record
        assert all(_is_good_record(line) for line in body.split(b"\n") if line.strip())
        return
    error = assert_error(response, 422)
    assert "line " in error["message"] or error["message"] == "The file holds no records."
    for bad in error.get("errors", {}).get("lines", []):
        assert bad["line"] >= 1 and bad["message"]
    assert rows() == before


@FUZZ
@given(lines=st.lists(raw_lines() | st.fixed_dictionaries({
    "contributor": st.just("u1") | json_values, "dataset": st.none() | json_values,
    "scope": st.just("ai-train") | json_values, "status": st.just("granted") | json_values,
    "at": st.just("2024-03-01T00:00:00Z") | json_values | AWKWARD_TEXT}).map(json_bytes), min_size=1, max_size=4),
    # A URL can't carry a lone surrogate: the query's text is any other awkward text.
    source=st.just("survey") | AWKWARD_TEXT.filter(lambda s: not any("\ud800" <= c <= "\udfff" for c in s)))
# Found by the draws above: a list where a scope or status goes was looked up in a set (a 500).
@example(lines=[json_bytes({"contributor": "u1", "scope": ["ai-train"], "status": "granted"})], source="survey")
@example(lines=[json_bytes({"contributor": "u1", "scope": "ai-train", "status": ["granted"]})], source="survey")
def test_a_consent_import_with_bad_lines_names_them_and_writes_nothing(client, platform, lines, source):
    body = b"\n".join(lines) + b"\n"
    before = rows()
    response = client.post("/api/v1/consents/import", query_string={"source": source}, data=body,
                           headers={**platform["headers"], "Content-Type": "application/x-ndjson"})
    assert response.status_code in (200, 422), (response.status_code, response.get_json())
    if response.status_code == 422:
        error = assert_error(response, 422)
        assert "line " in error["message"] or "source" in error["message"] or "lines" not in error.get("errors", {})
        assert rows() == before


@pytest.fixture
def run_and_admin(client, runner):
    admin = factories.bearer(admin_key(runner))
    created = client.post("/api/v1/admin/payout-runs", json={}, headers=admin)
    assert created.status_code == 201, created.get_json()
    return created.get_json()["id"], admin


CSV_CELLS = st.one_of(st.sampled_from(["1", "paid", "failed", "payout_id", "", "9" * 30, '"', '"a,b"']),
                      AWKWARD_TEXT, st.text(max_size=20))


@FUZZ
@given(text=st.lists(st.lists(CSV_CELLS, max_size=4).map(",".join), min_size=1, max_size=4).map("\n".join)
       | st.binary(max_size=100).map(lambda b: b.decode("latin-1")))
def test_a_payout_results_file_with_bad_lines_names_one_and_writes_nothing(client, run_and_admin, text):
    run_id, admin = run_and_admin
    before = rows()
    response = client.post(f"/api/v1/admin/payout-runs/{run_id}/results",
                           data=text.encode("utf-8", "surrogatepass"), headers={**admin, "Content-Type": "text/csv"})
    assert response.status_code in (200, 422), (response.status_code, response.get_json())
    if response.status_code == 422:
        error = assert_error(response, 422)
        assert "line " in error["message"] or "UTF-8" in error["message"]
    else:  # nothing in it named a payout: the run has none
        assert response.get_json() == {"paid": 0, "failed": 0}
    assert rows() == before
