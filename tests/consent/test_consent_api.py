"""GET and PUT /api/v1/me/consents: a contributor's standing decisions, each error case."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from marketplace.consent.models import Consent
from marketplace.extensions import db
from tests import factories
from tests.asserts import assert_error
from tests.consent.helpers import decide, listed
from tests.contributors_factory import claimed


@pytest.fixture
def dataset(client, platform):
    return listed(client, platform)


@pytest.fixture
def ana(platform, dataset):
    return claimed(platform, "ana")


def consents() -> int:
    return db.session.scalar(select(func.count()).select_from(Consent))


def test_no_decisions_yet_is_an_empty_list(client, ana):
    response = client.get("/api/v1/me/consents", headers=ana["headers"])
    assert (response.status_code, response.get_json()) == (200, {"items": []})


def test_the_latest_decision_per_target_and_scope_stands(client, platform, dataset, ana):
    decide(client, ana, platform=platform["slug"], scope="*", status="withdrawn")
    decide(client, ana, dataset=dataset["slug"], scope="ai-train", status="granted")
    decide(client, ana, dataset=dataset["slug"], scope="ai-train", status="withdrawn")
    items = client.get("/api/v1/me/consents", headers=ana["headers"]).get_json()["items"]
    assert [(i["platform"], i["dataset"], i["scope"], i["status"], i["source"]) for i in items] == [
        (platform["slug"], None, "*", "withdrawn", "contributor"),
        (platform["slug"], dataset["slug"], "ai-train", "withdrawn", "contributor"),
    ]
    assert consents() == 3  # the history keeps every decision


def test_identities_on_two_platforms_are_answered_together(client, platform, other_platform, dataset, ana):
    other = factories.create_dataset(client, other_platform)
    factories.import_records(client, other_platform, other["slug"], [factories.record(1, contributor="ana-photos")])
    from marketplace.accounts.models import User
    from marketplace.catalog.models import Contributor
    from marketplace.contributors.identities import link

    contributor = db.session.scalar(select(Contributor).where(Contributor.external_id == "ana-photos"))
    link(db.session, contributor, db.session.get(User, ana["user_id"]))
    db.session.commit()
    assert decide(client, ana, platform=other_platform["slug"], scope="ai-eval", status="granted").status_code == 200
    assert decide(client, ana, dataset=dataset["slug"], scope="*", status="granted").status_code == 200
    items = client.get("/api/v1/me/consents", headers=ana["headers"]).get_json()["items"]
    assert {(i["platform"], i["scope"]) for i in items} == {(platform["slug"], "*"), (other_platform["slug"], "ai-eval")}


@pytest.mark.parametrize(("body", "field"), [
    ({"platform": "{platform}", "scope": "everything", "status": "granted"}, "scope"),
    ({"platform": "{platform}", "scope": "*", "status": "maybe"}, "status"),
    ({"platform": "{platform}", "status": "granted"}, "scope"),
    ({"scope": "*", "status": "granted"}, "platform"),
    ({"dataset": None, "scope": "*", "status": "granted"}, "platform"),
    ({"platform": "other", "dataset": "{dataset}", "scope": "*", "status": "granted"}, "platform"),
    ({"platform": "a\u0000b", "scope": "*", "status": "granted"}, "platform"),
])
def test_a_bad_decision_is_a_422_naming_the_field_and_records_nothing(client, platform, dataset, ana, body, field):
    body = {k: v.format(platform=platform["slug"], dataset=dataset["slug"]) if isinstance(v, str) else v
            for k, v in body.items()}
    response = client.put("/api/v1/me/consents", json=body, headers=ana["headers"])
    assert field in assert_error(response, 422)["errors"]["json"]
    assert consents() == 0


def test_a_platform_or_dataset_without_an_identity_is_a_404(client, platform, other_platform, dataset, ana):
    other = factories.create_dataset(client, other_platform)
    for body in ({"platform": other_platform["slug"]}, {"dataset": other["slug"]}, {"dataset": "no-such-thing"},
                 {"platform": "no-such-platform"}):
        response = decide(client, ana, scope="*", status="granted", **body)
        assert_error(response, 404)
    assert consents() == 0


def test_only_contributors_have_consents(client, platform, buyer):
    assert_error(client.get("/api/v1/me/consents"), 401)
    for who in (platform, buyer):
        assert_error(client.get("/api/v1/me/consents", headers=who["headers"]), 403)
        response = client.put("/api/v1/me/consents", json={"platform": platform["slug"], "scope": "*",
                                                             "status": "granted"}, headers=who["headers"])
        assert_error(response, 403)
