"""Background work of accounts: noting an API key's use by a read, after the read."""
from __future__ import annotations

from datetime import datetime

from marketplace.accounts import services
from marketplace.extensions import db
from marketplace.jobs import task


@task()
def stamp_key_use(key_id: int, at: datetime) -> None:
    """Stamp the key's last use (debounced: only a stamp older than the resolution changes).

    A GET never writes in its own transaction, so its key's use is noted here, after it.
    """
    services.stamp_key_use(db.session, key_id, at)
