"""Claimed contributors for tests that need one before the claim flow is under test."""
from __future__ import annotations

import itertools

from sqlalchemy import select

from marketplace.accounts import services as accounts
from marketplace.catalog.models import Contributor
from marketplace.contributors.identities import link
from marketplace.extensions import db
from tests import factories

_people = itertools.count(1)


def claimed(platform: dict, external_id: str, *, email: str | None = None,
            password: str = "contributor-pass") -> dict:
    """Link the platform's contributor `external_id` (it must exist: import a record first) to a
    new contributor account; returns {user_id, email, password, api_key, headers}."""
    contributor = db.session.scalar(select(Contributor).where(
        Contributor.platform_id == platform["id"], Contributor.external_id == external_id))
    assert contributor is not None, f"no contributor {external_id!r} on {platform['slug']}"
    email = email or f"person{next(_people)}@example.test"
    user = accounts.create_user(db.session, email, password, role="contributor")
    link(db.session, contributor, user)
    issued = accounts.issue_api_key(db.session, user)
    db.session.commit()
    return {"user_id": user.id, "email": email, "password": password, "api_key": issued.secret,
            "headers": factories.bearer(issued.secret)}
