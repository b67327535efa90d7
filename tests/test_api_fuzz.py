"""Schemathesis against /api/v1/openapi.json, through the Flask app (WSGI, no network).

Every operation is called with generated input as each kind of key (platform, buyer,
contributor, admin) and with none, over a world where each path parameter can name a real row
(a paid license, a published dataset, a claimed contributor…). Every answer must be no 5xx, a
status code the operation documents (the catch-all "default" does not count), a documented
content type, a body that matches its documented schema, and every date-time in it UTC with a Z.

Bounded: FUZZ_EXAMPLES examples an operation and key (DIVIDEND_FUZZ_EXAMPLES, 4 by default),
derandomized so CI is repeatable; DIVIDEND_FUZZ_RANDOM=1 draws afresh each run for a longer hunt.
"""
from __future__ import annotations

import os
import re

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)

from tests import factories
from tests.contributors_factory import claimed
from tests.ledger.test_check import admin_key
from tests.payments.helpers import paid_license

FUZZ_EXAMPLES = int(os.environ.get("DIVIDEND_FUZZ_EXAMPLES", "4"))
RANDOM = os.environ.get("DIVIDEND_FUZZ_RANDOM") == "1"
DATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
LOOKS_LIKE_A_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")

# The imports' bodies (NDJSON records and consent, the payout results CSV) are text on the wire.
schemathesis.serializer.alias("application/x-ndjson", "text/plain")
schemathesis.serializer.alias("text/csv", "text/plain")


@pytest.fixture
def world(client, runner, platform, buyer, stripe_gateway, app):
    """A published dataset, a paid license, a claimed contributor, an admin: {keys, params}."""
    from tests.payments.helpers import offer as published_offer

    offer_id = published_offer(client, platform)
    license = paid_license(client, app, stripe_gateway, buyer, offer_id)
    slug = license["dataset"]
    person = claimed(platform, "u0")
    admin = factories.bearer(admin_key(runner))
    download = client.post(f"/api/v1/licenses/{license['id']}/downloads", json={}, headers=buyer["headers"])
    assert download.status_code == 201, download.get_json()
    token = download.get_json()["url"].rstrip("/").split("/")[-1].split("?")[0]
    spare = client.post("/api/v1/api-keys", json={"label": "spare"}, headers=platform["headers"])
    assert spare.status_code == 201, spare.get_json()
    run = client.post("/api/v1/admin/payout-runs", json={}, headers=admin)
    assert run.status_code == 201, run.get_json()
    return {
        "keys": {"platform": platform["headers"], "buyer": buyer["headers"], "contributor": person["headers"],
                 "admin": admin, "anonymous": {}},
        "params": {"slug": slug, "offer_id": offer_id, "license_id": license["id"], "key_id": spare.get_json()["id"],
                   "external_id": "u1", "number": license["versions"][-1] if license.get("versions") else "1.0.0",
                   "token": token, "run_id": run.get_json()["id"], "transaction_id": 1},
    }


def documented_codes(operation) -> set[int]:
    return {int(code) for code in operation.definition.raw.get("responses", {}) if code.isdigit()}


def times_are_utc(value, where: str = "$") -> None:
    """Every string in the body that starts like an ISO 8601 time is UTC to the microsecond with a Z."""
    if isinstance(value, dict):
        for key, item in value.items():
            times_are_utc(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            times_are_utc(item, f"{where}[{index}]")
    elif isinstance(value, str) and LOOKS_LIKE_A_TIME.match(value):
        assert DATE_TIME.fullmatch(value), f"{where}: {value!r} is not UTC with a Z"


#: not_a_server_error is ours below: a 502 the operation documents (the card processor is down or,
#: here, localstripe has no Connect) is an answer, any other 5xx a bug.
CHECKS = [content_type_conformance, response_schema_conformance, response_headers_conformance]


def fuzz(operation, headers: dict, params: dict, examples: int) -> tuple[list[str], set[int]]:
    """Run `examples` of the operation's generated cases with `headers`; returns what went wrong
    and the statuses seen."""
    found: list[str] = []
    seen: set[int] = set()
    codes = documented_codes(operation)

    @settings(max_examples=examples, deadline=None, database=None, derandomize=not RANDOM,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(), known=st.booleans())
    def run(case, known):
        if known and case.path_parameters:
            case.path_parameters = {name: params.get(name, value) for name, value in case.path_parameters.items()}
        response = case.call(headers=headers)
        seen.add(response.status_code)
        label = f"{operation.method.upper()} {operation.path} -> {response.status_code}"
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except Exception as error:  # schemathesis's FailureGroup, naming each failed check
            found.append(f"{label}: {str(error)[:600]}")
            return
        if response.status_code >= 500 and not (response.status_code == 502 and 502 in codes):
            found.append(f"{label}: server error {response.text[:300]}")
        elif response.status_code not in codes:
            found.append(f"{label}: status not documented (documented: {sorted(codes)})")
        if "json" in (response.headers.get("Content-Type") or [""])[0]:
            try:
                times_are_utc(response.json())
            except AssertionError as error:
                found.append(f"{label}: {error}")

    run()
    return found, seen


def test_every_operation_answers_as_documented_for_every_kind_of_key(app, world):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    problems: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for role, headers in world["keys"].items():
            # One example first; a key the operation refuses outright (401/403) gets no more.
            found, seen = fuzz(operation, headers, world["params"], 1)
            if seen - {401, 403}:
                found += fuzz(operation, headers, world["params"], FUZZ_EXAMPLES)[0]
            problems += [f"[{role}] {p}" for p in found]
    assert operations >= 50
    assert not problems, "\n".join(sorted(set(problems))[:60])
