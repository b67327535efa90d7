"""Browser tests: Playwright driving Debian's chromium against the live server.

The server is tests/conftest.py's `live_server`: its own process, its own migrated
SQLite database in a tmp dir, real commits, CSRF on. Not a thread in this process:
a second `create_app()` here would rebind the module-level extensions (the job
queue's app, the rate limiter's switch and storage, flask-smorest's Api) away from
the test app that the other tests in this xdist worker still use.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: Waits for navigation and assertions; a step on this machine takes well under a second.
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def browser():
    """One headless chromium per test process; each test gets a fresh context (see `page`)."""
    if not CHROMIUM.exists():
        message = "Debian chromium not installed: run scripts/install-chromium.sh"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test, so `page` can tell whether the test failed."""
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(request, browser, live_server, tmp_path_factory):
    """A page in a fresh browser context (no cookies) on the live server.

    On failure, a full-page screenshot is saved and its path printed with the report. Anything
    the Content-Security-Policy refused on any page of the context fails the test.
    """
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    refused: list[str] = []
    context.on("console", lambda message: refused.append(f"{message.page.url if message.page else '?'}: "
                                                         f"{message.text}")
               if "Content Security Policy" in message.text else None)
    page = context.new_page()
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        name = re.sub(r"[^\w.-]+", "-", request.node.name)
        path = tmp_path_factory.mktemp("screenshots") / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        print(f"\nscreenshot of {page.url} at the failure: {path}")
    context.close()
    assert not refused, "the Content-Security-Policy refused:\n" + "\n".join(refused)


@pytest.fixture
def fresh_server(tmp_path_factory, localstripe_url):
    """A live server of its own on a new, empty, migrated database (a journey starts from nothing).

    localstripe sends its webhooks to one address; it is pointed at this server for the test and
    back at the session's `live_server` (if one runs) afterwards.
    """
    from tests.conftest import LiveServer, register_webhook, start_live_server, stop_live_server

    live = start_live_server(tmp_path_factory.mktemp("fresh"), localstripe_url)
    yield live
    stop_live_server(live)
    if LiveServer.shared is not None:
        shared = LiveServer.shared
        register_webhook(localstripe_url, f"{shared.url}/webhooks/stripe",
                         shared.env["DIVIDEND_STRIPE_WEBHOOK_SECRET"])


def pytest_addoption(parser):
    parser.addoption("--screenshots", default=None, metavar="DIR",
                     help="where the journeys save a screenshot of every page they pass "
                          "(default: $DIVIDEND_SCREENSHOTS, else a tmp dir)")


@pytest.fixture(scope="session")
def screenshots(request, tmp_path_factory) -> Path:
    folder = request.config.getoption("--screenshots") or os.environ.get("DIVIDEND_SCREENSHOTS")
    path = Path(folder) if folder else tmp_path_factory.mktemp("journey-screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def journey(request, browser, fresh_server, screenshots, tmp_path_factory):
    """Browser contexts on the fresh server that watch every page for console errors, uncaught
    exceptions, and requests to our own origin that fail or answer >= 400; the test fails if any
    happened. `journey.shot(page, name)` saves a viewport screenshot (see journeys.Journey)."""
    from tests.e2e.journeys import Journey

    expect_options()
    run = Journey(browser, fresh_server, screenshots)
    yield run
    report = getattr(request.node, "report_call", None)
    run.close(tmp_path_factory.mktemp("failure") if report is not None and report.failed else None)
    assert not run.problems, "the browser saw problems:\n" + "\n".join(run.problems)


def expect_options() -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="session")
def world(live_server, localstripe_url):
    """One small world on the session's live server, for the checks that visit every page per role."""
    from tests.e2e.site import build_world

    return build_world(live_server, localstripe_url)
