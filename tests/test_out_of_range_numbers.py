"""Numbers past what the database stores, and digits int() refuses, are a 404 or a 422, never a 500."""
from __future__ import annotations

import pytest
from sqlalchemy import update

from marketplace.accounts import services as accounts
from marketplace.catalog.models import Contributor
from marketplace.contributors.identities import link
from marketplace.errors import Conflict
from marketplace.extensions import db
from tests import factories
from tests.asserts import assert_error
from tests.consent.helpers import listed
from tests.contributors_factory import claimed

HUGE = "99999999999999999999"  # > 2**63 - 1


@pytest.mark.parametrize("url", ["/api/v1/me/statement", "/api/v1/contributors", "/api/v1/licenses",
                                 "/api/v1/datasets"])
def test_a_page_past_the_last_possible_one_is_a_422_naming_page(client, platform, buyer, url):
    listed(client, platform)
    person = claimed(platform, "ana")
    headers = {"/api/v1/me/statement": person["headers"], "/api/v1/licenses": buyer["headers"]}.get(
        url, platform["headers"])
    response = client.get(f"{url}?page={HUGE}", headers=headers)
    assert "page" in assert_error(response, 422)["errors"]["query"]
    assert client.get(f"{url}?page=10000000", headers=headers).status_code == 200


def test_an_id_longer_than_64_bits_is_a_404(client, platform, buyer):
    listed(client, platform)
    person = claimed(platform, "ana")
    assert_error(client.get(f"/api/v1/me/ledger/{HUGE}", headers=person["headers"]), 404)
    assert_error(client.get(f"/api/v1/licenses/{HUGE}", headers=buyer["headers"]), 404)
    factories.login(client, person)
    assert client.get(f"/me/ledger/{HUGE}").status_code == 404


def test_unicode_digits_in_a_page_number_are_ignored(client, platform):
    listed(client, platform)
    factories.login(client, platform)
    response = client.get("/platform/contributors?page=%C2%B2")  # "²": isdigit() but not int()
    assert response.status_code == 200
    assert b"ana" in response.data


def test_a_nul_in_an_external_id_is_an_unknown_contributor(client, platform):
    listed(client, platform)
    for method in ("post", "delete"):
        response = getattr(client, method)("/api/v1/contributors/a%00b/claim-codes", headers=platform["headers"])
        assert_error(response, 404)


def test_linking_an_identity_claimed_behind_our_back_is_a_conflict(client, platform):
    """Two claims racing for one identity: the loser's stale row must not reassign it."""
    listed(client, platform)
    first = claimed(platform, "ana")
    stale = db.session.get(Contributor, db.session.scalar(
        db.select(Contributor.id).where(Contributor.platform_id == platform["id"], Contributor.external_id == "bo")))
    db.session.execute(update(Contributor).where(Contributor.id == stale.id)
                       .values(user_id=first["user_id"]).execution_options(synchronize_session=False))
    assert stale.user_id is None  # what the loser read before the winner committed
    second = accounts.create_user(db.session, "late@example.test", "contributor-pass", role="contributor")
    with pytest.raises(Conflict):
        link(db.session, stale, second)
    db.session.expire_all()
    assert db.session.get(Contributor, stale.id).user_id == first["user_id"]
