"""Issuing and using claim codes through the API, for the claims tests."""
from __future__ import annotations

import csv
import io
import itertools

from sqlalchemy import func, select

from marketplace.catalog.contributors import identity_ids
from marketplace.catalog.models import Contributor
from marketplace.extensions import db
from marketplace.ledger.models import LedgerEntry

_emails = itertools.count(1)
PASSWORD = "claimer-password"


def issue(client, platform: dict, external_id: str):
    return client.post(f"/api/v1/contributors/{external_id}/claim-codes", headers=platform["headers"])


def issued_code(client, platform: dict, external_id: str) -> str:
    response = issue(client, platform, external_id)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["code"]


def claim(client, code: str, email: str | None = None, password: str = PASSWORD, headers=None):
    body = {"code": code, "email": email or f"claimer{next(_emails)}@example.test", "password": password}
    return client.post("/api/v1/contributors/claim", json=body, headers=headers or {})


def contributor(platform: dict, external_id: str) -> Contributor:
    """The row as the database has it now (requests commit in sessions of their own)."""
    db.session.expire_all()
    return db.session.scalar(select(Contributor).where(
        Contributor.platform_id == platform["id"], Contributor.external_id == external_id))


def earned_by_account(user_id: int) -> int:
    """The payable entries of every identity the account holds, summed."""
    ids = identity_ids(db.session, user_id)
    return db.session.scalar(select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
        LedgerEntry.account == "contributor_payable", LedgerEntry.owner_id.in_(ids)))


def csv_rows(data: bytes | str) -> list[dict]:
    text = data.decode() if isinstance(data, bytes) else data
    return list(csv.DictReader(io.StringIO(text)))
