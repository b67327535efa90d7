"""The statement's paid_out and balance through a run, a failure and a retry (API.md: paid_out is
the payouts in transit or paid; balance = lifetime − paid_out); the payout pages."""
from __future__ import annotations

import io

from marketplace.extensions import db
from tests import factories
from tests.contributors_factory import claimed
from tests.ledger import helpers as ledger
from tests.ledger.test_check import admin_key
from tests.payouts.helpers import payouts
from tests.payouts.test_runs import PEOPLE


def usd(amount: int) -> dict:
    return {"amount": amount, "currency": "usd"}


def figures(client, person) -> tuple:
    body = client.get("/api/v1/me/statement", headers=person["headers"]).get_json()
    return body["lifetime"], body["paid_out"], body["balance"]


def results(client, admin, run_id: int, text: str):
    return client.post(f"/api/v1/admin/payout-runs/{run_id}/results", data=text,
                       headers={**admin, "Content-Type": "text/csv"})


def test_paid_out_and_balance_through_a_run_a_failure_and_a_retry(client, runner):
    owner = ledger.platform()
    ledger.pay(ledger.dataset(owner, PEOPLE), 12_345)
    ann = claimed({"id": owner.id, "slug": owner.slug}, "ann")
    admin = factories.bearer(admin_key(runner))
    assert figures(client, ann) == (usd(3_907), usd(0), usd(3_907))
    assert client.put("/api/v1/me/payout-account", json={"provider": "batch", "email": "ann@paypal.test"},
                      headers=ann["headers"]).get_json() == {
        "provider": "batch", "status": "ready", "email": "ann@paypal.test", "onboarding_url": None}

    first = client.post("/api/v1/admin/payout-runs", json={}, headers=admin).get_json()
    assert figures(client, ann) == (usd(3_907), usd(3_907), usd(0))  # in transit counts as paid out
    (payout,) = payouts()
    assert results(client, admin, first["id"], f"{payout.id},failed,Receiver unregistered\n").status_code == 200
    assert figures(client, ann) == (usd(3_907), usd(0), usd(3_907))  # back in the balance

    retry = client.post("/api/v1/admin/payout-runs", json={}, headers=admin).get_json()
    assert retry["payouts"] == 1 and retry["total"] == usd(3_907)
    assert figures(client, ann) == (usd(3_907), usd(3_907), usd(0))
    failed, retried = payouts()
    assert results(client, admin, retry["id"], f"{retried.id},paid\n").status_code == 200
    assert figures(client, ann) == (usd(3_907), usd(3_907), usd(0))

    mine = client.get("/api/v1/me/payouts", headers=ann["headers"]).get_json()
    assert [(item["id"], item["amount"], item["status"]) for item in mine["items"]] == [
        (retried.id, usd(3_907), "paid"), (failed.id, usd(3_907), "failed")]
    assert mine["total"] == 2 and mine["items"][1]["failure_reason"] == "Receiver unregistered"

    # Someone else's payouts are not listed; their runs' results are the admin's only.
    bo = claimed({"id": owner.id, "slug": owner.slug}, "bo")
    assert client.get("/api/v1/me/payouts", headers=bo["headers"]).get_json()["items"] == []
    assert results(client, bo["headers"], retry["id"], f"{retried.id},paid\n").status_code == 403


def test_the_pages_show_the_account_the_history_and_the_runs(client, runner, platform):
    owner_id = platform["id"]
    from marketplace.accounts.models import Organization

    owner = db.session.get(Organization, owner_id)
    ledger.pay(ledger.dataset(owner, PEOPLE), 12_345)
    ann = claimed({"id": owner.id, "slug": owner.slug}, "ann")
    db.session.commit()

    factories.login(client, ann)
    saved = client.post("/me/payout-account", data={"provider": "batch", "email": "ann@paypal.test"})
    assert saved.status_code == 302
    bad = client.post("/me/payout-account", data={"provider": "batch", "email": "nope"})
    assert bad.status_code == 422 and b"Not a valid e-mail address" in bad.data
    client.post("/logout")

    factories.login(client, platform)
    client.post("/me/payout-account", data={"provider": "batch", "email": "forum@paypal.test"})
    client.post("/logout")

    email = f"{ledger.unique('admin')}@example.test"
    admin_key(runner, email, "long enough password")
    factories.login(client, {"email": email, "password": "long enough password"})
    assert client.post("/admin/payouts/runs").status_code == 302
    page = client.get("/admin/payouts")
    assert page.status_code == 200 and b"batch.csv" in page.data
    ann_payout, platform_payout = sorted(payouts(), key=lambda p: p.account)
    run_id = ann_payout.run_id
    csv_file = client.get(f"/admin/payouts/runs/{run_id}/batch.csv")
    assert csv_file.get_data(as_text=True).count("\n") == 2
    refused = client.post(f"/admin/payouts/runs/{run_id}/results",
                          data={"results": (io.BytesIO(b"99999999,paid\n"), "results.csv")},
                          content_type="multipart/form-data")
    assert refused.status_code == 422 and b"line 1" in refused.data
    uploaded = client.post(f"/admin/payouts/runs/{run_id}/results", data={
        "results": (io.BytesIO(f"{ann_payout.id},paid\n{platform_payout.id},paid\n".encode()), "results.csv")},
        content_type="multipart/form-data")
    assert uploaded.status_code == 302
    client.post("/logout")

    factories.login(client, ann)
    statement = client.get("/me/statement").get_data(as_text=True)
    assert f'data-payout="{ann_payout.id}"' in statement and "ann@paypal.test" in statement
    assert '<strong data-figure="paid-out">39.07 USD</strong>' in statement
    assert client.get("/admin/payouts").status_code == 403
    client.post("/logout")

    factories.login(client, platform)
    report = client.get("/platform/report").get_data(as_text=True)
    assert f'data-payout="{platform_payout.id}"' in report and "forum@paypal.test" in report
    assert '<strong data-figure="paid-out">58.64 USD</strong>' in report
