"""On PostgreSQL, with real concurrent connections: several people (or accounts) using the same
claim code at once. Exactly one wins; every other gets the service's Conflict (a 409), never a
unique-index error (a 500), and the losers leave nothing behind. And exports of a platform's
codes at once with each other and with operators issuing codes: each contributor ends up with
exactly one open code.

Each thread commits for real, so the test runs on a schema of its own (tests/isolated.py).
"""
from __future__ import annotations

import io
import threading

import pytest
import sqlalchemy as sa

from marketplace.accounts import services as accounts
from marketplace.accounts.models import User
from marketplace.catalog import importer, services
from marketplace.catalog.models import Contributor
from marketplace.contributors import claims
from marketplace.contributors.models import ClaimCode
from marketplace.errors import Conflict
from marketplace.extensions import db
from tests import isolated
from tests.conftest import BACKEND

pytestmark = [
    pytest.mark.isolated_db,
    pytest.mark.skipif(BACKEND != "postgresql",
                       reason="racing connections need PostgreSQL; SQLite has one writer at a time"),
]
THREADS = 6
#: Every thread must be done by then; a lock nobody released would hang past it.
TIMEOUT = 60
PASSWORD = "long enough password"


@pytest.fixture(scope="module")
def isolated_app(app):
    with isolated.isolated_app("claim_races", connections=THREADS + 2) as market:
        yield market


def contributor_with_code(market, slug: str) -> tuple[int, str]:
    """A platform whose dataset has one contributor, holding one open claim code; committed."""
    with market.app_context():
        platform, _user, _key = accounts.sign_up(db.session, "platform", f"Forum {slug}",
                                                 f"{slug}@example.test", PASSWORD)
        dataset = services.create_dataset(db.session, platform.id, {
            "slug": slug, "title": f"Posts {slug}", "summary": "", "description": "",
            "content_kind": "post", "languages": ["en"], "tags": [], "consent_policy": "opt_out",
            "weighting": "records"})
        importer.import_records(db.session, dataset, [
            (1, {"external_id": "r1", "contributor": {"external_id": "maya", "region": "US"},
                 "text": "a post", "created_at": "2024-01-01T00:00:00Z"})])
        issued = claims.issue(db.session, platform.id, "maya", issued_by=None)
        contributor_id = issued.claim_code.contributor_id
        db.session.commit()
        return contributor_id, issued.code


def race(market, attempt) -> tuple[list[int], int, list[str]]:
    """Run attempt(i) in THREADS threads released together, each committing on success;
    returns (winners' i, conflicts, unexpected errors)."""
    # A timeout and daemon threads: a stuck claim fails the test instead of hanging the run.
    barrier = threading.Barrier(THREADS, timeout=TIMEOUT)
    lock = threading.Lock()
    winners: list[int] = []
    errors: list[str] = []
    conflicts = 0

    def run(i: int) -> None:
        nonlocal conflicts
        with market.app_context():
            try:
                barrier.wait()
                attempt(i)
                db.session.commit()
                with lock:
                    winners.append(i)
            except Conflict:
                db.session.rollback()
                with lock:
                    conflicts += 1
            except Exception as error:  # noqa: BLE001 - any other failure is the finding
                db.session.rollback()
                with lock:
                    errors.append(f"{type(error).__name__}: {error}")
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a claim hung: a lock was never released"
    return winners, conflicts, errors


def test_one_of_several_people_claiming_the_same_code_at_once_wins(isolated_app):
    contributor_id, code = contributor_with_code(isolated_app, "claims")

    winners, conflicts, errors = race(isolated_app, lambda i: claims.claim(
        db.session, code, f"person{i}@example.test", PASSWORD, with_api_key=False))

    assert errors == []
    assert len(winners) == 1 and conflicts == THREADS - 1
    with isolated_app.app_context():
        contributor = db.session.get(Contributor, contributor_id)
        winner = db.session.scalar(sa.select(User).where(User.email == f"person{winners[0]}@example.test"))
        assert contributor.user_id == winner.id
        # The losers' accounts went with their rolled-back transactions.
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)
                                 .where(User.email.like("person%@example.test"))) == 1
        used = db.session.scalars(sa.select(ClaimCode).where(ClaimCode.contributor_id == contributor_id)).all()
        assert [(row.used_by, row.revoked_at) for row in used] == [(winner.id, None)]
        db.session.remove()


def test_one_of_several_accounts_linking_the_same_code_at_once_wins(isolated_app):
    contributor_id, code = contributor_with_code(isolated_app, "links")
    with isolated_app.app_context():
        user_ids = [accounts.create_user(db.session, f"holder{i}@example.test", PASSWORD, role="contributor").id
                    for i in range(THREADS)]
        db.session.commit()
        db.session.remove()

    winners, conflicts, errors = race(isolated_app, lambda i: claims.link_code(
        db.session, db.session.get(User, user_ids[i]), code))

    assert errors == []
    assert len(winners) == 1 and conflicts == THREADS - 1
    with isolated_app.app_context():
        assert db.session.get(Contributor, contributor_id).user_id == user_ids[winners[0]]
        db.session.remove()


def platform_with_contributors(market, slug: str, people: int) -> int:
    """A platform whose dataset has `people` contributors (c0, c1, …) and no claim code; committed."""
    with market.app_context():
        platform, _user, _key = accounts.sign_up(db.session, "platform", f"Forum {slug}",
                                                 f"{slug}@example.test", PASSWORD)
        dataset = services.create_dataset(db.session, platform.id, {
            "slug": slug, "title": f"Posts {slug}", "summary": "", "description": "",
            "content_kind": "post", "languages": ["en"], "tags": [], "consent_policy": "opt_out",
            "weighting": "records"})
        importer.import_records(db.session, dataset, [
            (n + 1, {"external_id": f"r{n}", "contributor": {"external_id": f"c{n}", "region": "US"},
                     "text": "a post", "created_at": "2024-01-01T00:00:00Z"}) for n in range(people)])
        db.session.commit()
        return platform.id


def open_codes_per_contributor(market, platform_id: int) -> dict[str, int]:
    with market.app_context():
        now = sa.func.now()
        rows = db.session.execute(
            sa.select(Contributor.external_id, sa.func.count(ClaimCode.id))
            .outerjoin(ClaimCode, (ClaimCode.contributor_id == Contributor.id) & ClaimCode.used_at.is_(None)
                       & ClaimCode.revoked_at.is_(None) & (ClaimCode.expires_at > now))
            .where(Contributor.platform_id == platform_id).group_by(Contributor.external_id)).all()
        db.session.remove()
        return dict(rows)


def test_exports_at_once_give_each_contributor_one_code_between_them(isolated_app):
    platform_id = platform_with_contributors(isolated_app, "exports", 20)
    issued: list[int] = []

    def export(_i: int) -> None:
        issued.append(claims.export(db.session, platform_id, io.StringIO()).issued)

    winners, conflicts, errors = race(isolated_app, export)

    assert (errors, conflicts, len(winners)) == ([], 0, THREADS)
    assert sorted(issued) == [0] * (THREADS - 1) + [20]  # the first to commit issued every code
    assert set(open_codes_per_contributor(isolated_app, platform_id).values()) == {1}


def test_an_export_and_operators_issuing_at_once_leave_one_open_code_each(isolated_app):
    platform_id = platform_with_contributors(isolated_app, "mixed", THREADS)

    def export_or_issue(i: int) -> None:
        if i % 2:
            claims.issue(db.session, platform_id, f"c{i}", issued_by=None)
        else:
            claims.export(db.session, platform_id, io.StringIO())

    winners, conflicts, errors = race(isolated_app, export_or_issue)

    assert (errors, conflicts, len(winners)) == ([], 0, THREADS)
    assert set(open_codes_per_contributor(isolated_app, platform_id).values()) == {1}
