"""A second app on a fresh, migrated database (a PostgreSQL schema, or any URL), for tests whose
threads must commit for real (concurrent writers can't share the suite's rolled-back transaction).

create_app() rebinds a few module-level singletons (the job queue's app, the rate limiter,
flask-smorest's Api) to the newest app: they are given back to the suite's app at the end.
"""
from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Flask
from flask_migrate import upgrade

from marketplace import create_app, jobs
from marketplace.config import normalize_database_url
from marketplace.extensions import api, db, limiter
from tests.conftest import TEST_CONFIG, run_id


@contextmanager
def app_on(url: str, **engine_options) -> Iterator[Flask]:
    """An app on the database at `url`, migrated; the suite's singletons given back at the end."""
    saved = {extension: dict(vars(extension)) for extension in (api, limiter)}
    saved_job_app = jobs._state["app"]
    try:
        config = {**TEST_CONFIG, "SQLALCHEMY_DATABASE_URI": url}
        if engine_options:
            config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options
        isolated = create_app(config)
        with isolated.app_context():
            upgrade()
        yield isolated
        with isolated.app_context():
            db.session.remove()
            db.engine.dispose()
    finally:
        for extension, state in saved.items():
            vars(extension).clear()
            vars(extension).update(state)
        jobs._state["app"] = saved_job_app


@contextmanager
def isolated_app(name: str, *, connections: int) -> Iterator[Flask]:
    """The app, its schema named after `name`, the run and the xdist worker; dropped afterwards."""
    base = normalize_database_url(os.environ["DIVIDEND_TEST_DATABASE_URL"])
    schema = f"{name}_{run_id()}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    try:
        with app_on(url, pool_size=connections, max_overflow=0) as isolated:
            yield isolated
    finally:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()
