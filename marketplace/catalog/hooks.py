"""What other domains attach to the catalog's writes, without the catalog importing them.

The personal-data scan (marketplace.pii) registers here in create_app: it hears of every
import, may refuse a freeze, and writes its part of each frozen version. Hooks run in
the caller's transaction and flush, never commit.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

_after_import: list[Callable[[Session, int, int], None]] = []
_before_freeze: list[Callable[[Session, int], None]] = []
_after_freeze: list[Callable[[Session, object, object], None]] = []


def register(*, after_import=None, before_freeze=None, after_freeze=None) -> None:
    """Add hooks (each at most once: create_app may run more than once in a process)."""
    for hooks, hook in ((_after_import, after_import), (_before_freeze, before_freeze),
                        (_after_freeze, after_freeze)):
        if hook is not None and hook not in hooks:
            hooks.append(hook)


def records_imported(session: Session, dataset_id: int, revision: int) -> None:
    """An import wrote records at `revision` (those created or changed have modified_rev = it)."""
    for hook in _after_import:
        hook(session, dataset_id, revision)


def freezing(session: Session, dataset_id: int) -> None:
    """A version is about to be frozen; a hook refuses it by raising a DomainError."""
    for hook in _before_freeze:
        hook(session, dataset_id)


def frozen(session: Session, dataset, version) -> None:
    """A version was frozen (its row flushed) from the dataset's live records."""
    for hook in _after_freeze:
        hook(session, dataset, version)
