"""Shared bits of the benchmarks: a fresh migrated database (a SQLite file, or a PostgreSQL
database created for the run and dropped after), a child-process runner."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: The app's SQLite settings (marketplace/db.py), for the bare floors.
PRAGMAS = ("PRAGMA foreign_keys = ON", "PRAGMA journal_mode = WAL", "PRAGMA synchronous = NORMAL",
           "PRAGMA cache_size = -65536")


def database_url(target: Path | str) -> str:
    """A SQLite file's path, or a database URL, as a URL."""
    return str(target) if "://" in str(target) else f"sqlite:///{target}"


def migrated_app(target: Path | str):
    """An app at the current schema on a SQLite file's path or a database URL (run inside a child
    process)."""
    os.environ["DIVIDEND_JOBS"] = "immediate"
    from flask_migrate import upgrade

    from marketplace import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url(target), "JOBS": "immediate",
                      "SECRET_KEY": "bench-only-not-a-secret-key"})
    with app.app_context():
        upgrade()
    return app


def run_child(script: Path, *args: str) -> dict:
    """Run `script --child …` in a fresh process; its last stdout line is a JSON object."""
    completed = subprocess.run([sys.executable, str(script), "--child", *args], capture_output=True, text=True,
                               cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if completed.returncode != 0:
        sys.stderr.write(completed.stdout + completed.stderr)
        raise SystemExit(f"child {args[0]} failed")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def mark_scanned(session, dataset_id: int) -> None:
    """Mark a benchmark dataset's records scanned for personal data by the current detector.

    Freezing needs every record scanned (SPEC.md); these benchmarks generate their records, which
    hold no personal data, and measure something else: scanning ten million of them would take
    minutes of set-up (bench/pii.py measures the scan). One UPDATE, as the scan's marker does.
    """
    from sqlalchemy import text

    from marketplace.pii.detector import DETECTOR_VERSION

    session.execute(text("UPDATE records SET pii_version = :version WHERE dataset_id = :dataset"),
                    {"version": int(DETECTOR_VERSION), "dataset": dataset_id})


@contextmanager
def fresh_postgres(server_url: str, name: str) -> Iterator[str]:
    """A database of our own on the server of `server_url` (any database there we may connect to),
    created empty and dropped afterwards, so a run collides with nobody's; yields its URL."""
    import signal

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))  # still drop the database
    server = make_url(server_url).set(drivername="postgresql+psycopg")  # psycopg 3, as the app uses
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
