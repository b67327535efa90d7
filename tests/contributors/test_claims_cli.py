"""`flask claim-codes export PLATFORM_SLUG FILE`: a fresh code per unclaimed contributor, for mailing."""
from __future__ import annotations

from sqlalchemy import func, select

from marketplace.contributors.models import ClaimCode
from marketplace.extensions import db
from tests.asserts import assert_error
from tests.consent.helpers import listed
from tests.contributors.helpers_claims import claim, csv_rows, issued_code
from tests.contributors_factory import claimed


def test_the_reissue_writes_one_working_code_per_unclaimed_contributor(runner, client, platform, tmp_path):
    listed(client, platform)
    claimed(platform, "dee")
    older = issued_code(client, platform, "ana")
    target = tmp_path / "codes.csv"
    # Revoking ana's open code is the explicit re-issue now (the default export keeps it: see below).
    result = runner.invoke(args=["claim-codes", "export", platform["slug"], str(target), "--reissue", "--yes"])
    assert result.exit_code == 0, result.output
    assert f"{platform['slug']}: 3 claim codes written to {target} (valid for 30 days)." in result.output
    rows = csv_rows(target.read_text(encoding="utf-8"))
    assert [(r["external_id"], r["region"]) for r in rows] == [("ana", "US"), ("bo", "FR"), ("cy", "US")]
    assert_error(claim(client, older), 409, "revoked")
    for row in rows:
        response = claim(client, row["code"])
        assert response.status_code == 201, response.get_json()


def test_an_unknown_platform_writes_nothing(runner, client, platform, buyer, tmp_path):
    listed(client, platform)
    target = tmp_path / "codes.csv"
    for slug in ("no-such-platform", buyer["slug"]):
        result = runner.invoke(args=["claim-codes", "export", slug, str(target)])
        assert result.exit_code == 1 and f"No platform {slug!r}." in result.output
    assert not target.exists()
    assert db.session.scalar(select(func.count()).select_from(ClaimCode)) == 0


def test_an_unwritable_file_is_refused_and_issues_nothing(runner, client, platform, tmp_path):
    listed(client, platform)
    result = runner.invoke(args=["claim-codes", "export", platform["slug"], str(tmp_path / "missing" / "codes.csv")])
    assert result.exit_code == 1 and "Can't write" in result.output and "No such file or directory" in result.output
    assert db.session.scalar(select(func.count()).select_from(ClaimCode)) == 0


def test_a_failed_export_removes_the_file_and_commits_nothing(runner, client, platform, tmp_path, monkeypatch):
    from marketplace.contributors import claims

    listed(client, platform)
    real = claims.export_codes

    def export_then_fail(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("disk full")

    monkeypatch.setattr(claims, "export_codes", export_then_fail)
    target = tmp_path / "codes.csv"
    result = runner.invoke(args=["claim-codes", "export", platform["slug"], str(target)])
    assert result.exit_code == 1 and isinstance(result.exception, RuntimeError)
    assert not target.exists()
    assert db.session.scalar(select(func.count()).select_from(ClaimCode)) == 0
