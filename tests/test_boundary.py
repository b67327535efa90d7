"""The transaction boundary's promises: work queued for after a commit runs once, only after a
commit that succeeded, and never for work a refused form call undid."""
from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from marketplace import boundary
from marketplace.errors import Conflict
from marketplace.extensions import db


def test_a_locked_first_try_runs_the_after_commit_work_once(app):
    ran, tries = [], []

    def work():
        tries.append(1)
        boundary.after_commit(ran.append, "job")
        if len(tries) == 1:
            raise OperationalError("BEGIN", {}, Exception("database is locked"))
        return "done"

    assert boundary.unit_of_work(work, base_delay=0) == "done"
    assert len(tries) == 2 and ran == ["job"]


def test_work_that_fails_queues_nothing(app):
    ran = []

    def work():
        boundary.after_commit(ran.append, "job")
        raise Conflict("refused")

    with pytest.raises(Conflict):
        boundary.unit_of_work(work)
    assert ran == [] and db.session.info.get("dividend.after_commit", []) == []


def test_a_refused_form_call_takes_its_queued_work_with_it(app):
    ran = []
    boundary.after_commit(ran.append, "before")
    with boundary.attempt() as outcome:
        boundary.after_commit(ran.append, "refused")
        raise Conflict("no")
    assert not outcome.ok and outcome.message == "no"
    boundary.commit()
    assert ran == ["before"]
