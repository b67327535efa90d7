"""The steps of the four journeys, driven through the pages as a person does them.

`Journey` opens browser contexts on a fresh server, watches every page for console errors,
uncaught exceptions and requests to our own origin that fail or answer >= 400, and saves a
screenshot (the 1280x800 viewport, PNG) of each page a step passes. The step functions below are
shared: a journey runs its own role's steps with screenshots, and the other roles' steps it needs
(a platform that publishes, a buyer that pays, an admin that pays out) in contexts without.

The only thing done outside the pages is what a person does in a terminal: creating the admin
account (`flask admin create`).
"""
from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import orjson
from playwright.sync_api import Page, expect

from tests.e2e.checkout import license_and_pay
from tests.e2e.conftest import TIMEOUT_MS

VIEWPORT = {"width": 1280, "height": 800}
PASSWORD = "correct horse battery"
#: With DIVIDEND_SCREENSHOTS_MAIN=1 only the journeys' main pages are saved (`make screenshots`).
MAIN_ONLY = os.environ.get("DIVIDEND_SCREENSHOTS_MAIN") == "1"
ACTIVATION_MS = 20_000
#: The browser gave up on the request itself: the page navigated on before a favicon or a poll
#: finished, or a navigation turned into a download. A failure of ours answers >= 400 (reported
#: with its status) or breaks the connection (ERR_EMPTY_RESPONSE, ERR_CONNECTION_REFUSED…).
CANCELLED = "net::ERR_ABORTED"
DATASET = {"slug": "tandem-restorations", "title": "Tandem restoration threads", "offer": "Training, worldwide"}


class Journey:
    def __init__(self, browser, server, folder: Path):
        self.browser, self.server, self.folder = browser, server, folder
        self.problems: list[str] = []
        self._contexts, self._roles, self._counts = [], {}, {}

    def page(self, role: str, *, shots: bool = True) -> Page:
        """A page in a new context (no cookies). Screenshots of it are named after `role`."""
        context = self.browser.new_context(base_url=self.server.url, viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        self._contexts.append(context)
        page = context.new_page()
        self._watch(page)
        self._roles[page] = (role, shots)
        return page

    def _watch(self, page: Page) -> None:
        origin = self.server.url

        def console(message):
            if message.type == "error":
                self.problems.append(f"console error on {page.url}: {message.text}")

        def failed(request):
            if request.url.startswith(origin) and request.failure != CANCELLED:
                self.problems.append(f"request failed: {request.method} {request.url}: {request.failure}")

        def answered(response):
            if response.url.startswith(origin) and response.status >= 400:
                self.problems.append(f"{response.status} for {response.request.method} {response.url}")

        page.on("console", console)
        page.on("pageerror", lambda error: self.problems.append(f"uncaught on {page.url}: {error}"))
        page.on("requestfailed", failed)
        page.on("response", answered)

    def shot(self, page: Page, name: str, *, main: bool = False) -> None:
        """Save the page as `<role>-<nn>-<name>.png`, after checking its favicon is served."""
        role, shots = self._roles[page]
        status = page.evaluate("async () => (await fetch(document.querySelector('link[rel~=icon]').href)).status")
        assert status == 200, f"the favicon of {page.url} answered {status}"
        if not shots:
            return
        n = self._counts[role] = self._counts.get(role, 0) + 1
        if MAIN_ONLY and not main:
            return
        page.screenshot(path=str(self.folder / f"{role}-{n:02d}-{name}.png"), animations="disabled")

    def terminal(self, *args: str) -> str:
        """What a person types in a terminal on the server: `flask --app app ARGS`."""
        done = self.server.flask(*args)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def close(self, failures: Path | None = None) -> None:
        """Close every context; with `failures`, first save each open page there (full page)."""
        for context in self._contexts:
            if failures is not None:
                for page in context.pages:
                    path = failures / f"{self._roles[page][0]}-at-failure.png"
                    page.screenshot(path=str(path), full_page=True)
                    print(f"\nscreenshot of {page.url} at the failure: {path}")
            context.close()


def to_top(page: Page, selector: str) -> None:
    """Scroll so the element is at the top of the window (for the screenshot that follows)."""
    page.locator(selector).evaluate("element => element.scrollIntoView({block: 'start'})")


def chart_drawn(page: Page, canvas_id: str) -> None:
    """Wait until Chart.js has finished animating the chart (a screenshot shows the whole bars)."""
    page.wait_for_function("id => { const chart = window.Chart && Chart.getChart(id);"
                           " return chart && !Chart.animator.running(chart); }", arg=canvas_id)


def flash(page: Page, text: str) -> None:
    expect(page.get_by_role("status").filter(has_text=text)).to_be_visible()


def records_file(folder: Path, count: int) -> Path:
    """`count` NDJSON records by four members (US), all about restoring tandem bicycles."""
    path = folder / "tandem-threads.ndjson"
    lines = [{"external_id": f"post-{i}",
              "contributor": {"external_id": f"member-{i % 4}", "region": "US"},
              "text": f"Tandem bicycle restoration notes, part {i}: " + "cleaning the timing chain, " * (i % 7),
              "created_at": "2024-02-03T04:05:06Z"}
             for i in range(count)]
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


# ---- accounts -------------------------------------------------------------------------------------

def sign_up(journey: Journey, page: Page, kind: str, name: str, email: str) -> None:
    page.goto("/")
    journey.shot(page, "home", main=kind == "platform")
    page.get_by_role("navigation", name="Site").get_by_role("button", name="Sign up").click()  # a link (Pico)
    expect(page).to_have_url(re.compile("/signup$"))
    kind_label = "platform that hosts" if kind == "platform" else "buyer that licenses"
    page.get_by_label(re.compile(kind_label)).check()
    page.get_by_label("Organization name").fill(name)
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    journey.shot(page, "sign-up")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("button", name=re.compile("^Log out"))).to_be_visible()


def log_in(journey: Journey, page: Page, email: str) -> None:
    page.goto("/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    journey.shot(page, "log-in")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name=re.compile("^Log out"))).to_be_visible()


def admin(journey: Journey, *, shots: bool = False) -> Page:
    """The marketplace's admin, created in a terminal, logged in through the page."""
    email = "admin@dividend.example.test"
    if not getattr(journey, "admin_created", False):
        journey.terminal("admin", "create", email, "--password", PASSWORD)
        journey.admin_created = True
    page = journey.page("admin", shots=shots)
    log_in(journey, page, email)
    return page


# ---- platform -------------------------------------------------------------------------------------

def platform_publishes(journey: Journey, page: Page, folder: Path, *, records: int = 12,
                       throttle_upload: bool = False) -> str:
    """Sign up as a platform, create the dataset, upload its records, freeze, offer at 2,500.00 USD,
    publish. Returns the dataset's slug."""
    sign_up(journey, page, "platform", "Velocipede Forum", "ops@velocipede.example.test")
    expect(page).to_have_url(re.compile("/platform/datasets$"))
    expect(page.get_by_role("heading", name="Velocipede Forum: datasets")).to_be_visible()
    journey.shot(page, "datasets")

    page.get_by_role("button", name="New dataset").click()  # a link styled as a button (Pico)
    page.get_by_label("Slug").fill(DATASET["slug"])
    page.get_by_label("Title").fill(DATASET["title"])
    page.get_by_label("Summary").fill("How members restore old tandem bicycles, thread by thread.")
    page.get_by_label("Description").fill("Posts from the forum's restoration board, 2019 to 2024.\n\n"
                                          "Signatures and quoted replies are removed.")
    page.get_by_label("Languages").fill("en")
    page.get_by_label("Tags").fill("cycling, restoration")
    journey.shot(page, "new-dataset")
    page.get_by_role("button", name="Create draft").click()
    expect(page).to_have_url(re.compile(f"/platform/datasets/{DATASET['slug']}$"))
    flash(page, "created as a draft")
    journey.shot(page, "draft")

    page.get_by_label("Records file").set_input_files(records_file(folder, records))
    if throttle_upload:
        # A slow uplink (about 64 KB/s) so the upload takes a moment: its progress is on the page.
        network = page.context.new_cdp_session(page)
        network.send("Network.enable")
        network.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": 20, "downloadThroughput": -1, "uploadThroughput": 64 * 1024})
    page.get_by_role("button", name="Import records").click()
    if throttle_upload:
        bar = page.locator("#upload-bar")
        expect(bar).to_be_visible()
        expect(page.locator("#upload-status")).to_contain_text(re.compile(r"Uploading… \d+% of \d+ KB"))
        page.wait_for_function("document.getElementById('upload-bar').value > 0")
        journey.shot(page, "upload-progress", main=True)
    flash(page, f"Imported tandem-threads.ndjson: {records} created, 0 updated.")
    if throttle_upload:
        network.send("Network.emulateNetworkConditions", {
            "offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    expect(page.get_by_text(f"{records} live records.")).to_be_visible()
    journey.shot(page, "imported")

    page.get_by_role("button", name="Freeze a new version").click()
    flash(page, f"Version 1.0.0 frozen: {records} records.")
    journey.shot(page, "frozen")

    page.get_by_label("Name", exact=True).fill(DATASET["offer"])
    page.get_by_role("checkbox", name=re.compile("^AI training")).check()
    page.get_by_label("Price (USD)").fill("2,500.00")
    # The price is previewed as it is typed, in the currency, before anything is saved.
    expect(page.locator("#price-preview")).to_have_text("A buyer pays 2,500.00 USD today for version 1.0.0.")
    page.locator("#price-preview").scroll_into_view_if_needed()
    journey.shot(page, "price-preview", main=True)
    page.get_by_role("button", name="Create offer").click()
    flash(page, f"Offer '{DATASET['offer']}' created.")

    page.get_by_role("button", name="Publish", exact=True).click()
    flash(page, "Published: the dataset is in the catalog.")
    expect(page.get_by_role("button", name="Unpublish")).to_be_visible()
    journey.shot(page, "published")
    return DATASET["slug"]


def platform_issues_a_code(journey: Journey, page: Page, member: str) -> str:
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Contributors").click()
    expect(page.get_by_role("heading", name="Velocipede Forum: contributors")).to_be_visible()
    journey.shot(page, "contributors")
    page.get_by_role("button", name=f"Issue code for {member}").click()
    code = page.locator("#new-code")
    expect(code).to_have_text(re.compile(r"\S{6,}"))
    journey.shot(page, "claim-code", main=True)
    return code.inner_text().strip()


def platform_takes_down(page: Page, slug: str, external_id: str) -> None:
    page.goto(f"/platform/datasets/{slug}")
    page.get_by_text("Take a record down").click()
    page.get_by_label("Record external id").fill(external_id)
    page.get_by_role("button", name="Take down").click()
    expect(page.get_by_role("status").or_(page.get_by_role("alert")).first).to_be_visible()
    expect(page.get_by_role("alert")).to_have_count(0)


def set_payout_account(journey: Journey, page: Page, email: str) -> None:
    page.get_by_role("link", name="set one up").click()
    expect(page.get_by_role("heading", name="Payout account")).to_be_visible()
    page.get_by_label(re.compile("Batch payment")).check()
    page.get_by_label("E-mail address to pay").fill(email)
    journey.shot(page, "payout-account")
    page.get_by_role("button", name="Save").click()
    flash(page, "Your payout account is saved")
    expect(page.locator("[data-payout-account]")).to_have_text("ready")
    journey.shot(page, "payout-account-saved")


# ---- buyer ----------------------------------------------------------------------------------------

def buyer_buys(journey: Journey, page: Page, slug: str) -> int:
    """A buyer signs up and pays for the dataset's offer with the test card; returns the license id."""
    sign_up(journey, page, "buyer", "Orchard Models", "data@orchard.example.test")
    license_and_pay(page, slug, DATASET["offer"])
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "active", timeout=ACTIVATION_MS)
    return int(page.url.rsplit("/", 1)[1])


def buyer_downloads(page: Page, folder: Path) -> Path:
    with page.expect_download() as started:
        page.get_by_role("button", name="Download version 1.0.0").click()
    path = folder / started.value.suggested_filename
    started.value.save_as(path)
    return path


def buyer_acknowledges(journey: Journey, page: Page, license_id: int, withdrawn: str) -> None:
    page.goto(f"/licenses/{license_id}")
    withdrawals = page.locator("#delivery")
    row = withdrawals.get_by_role("row").filter(has_text=withdrawn)
    expect(row).to_contain_text("no")
    to_top(page, "#withdrawals")
    journey.shot(page, "withdrawal", main=True)
    page.get_by_role("button", name=re.compile("^Acknowledge: we deleted all")).click()
    expect(page.get_by_text(re.compile("Acknowledged through"))).to_be_visible()
    expect(row).to_contain_text("yes")
    to_top(page, "#withdrawals")
    journey.shot(page, "withdrawal-acknowledged")


# ---- admin ----------------------------------------------------------------------------------------

def admin_pays_out(journey: Journey, page: Page, folder: Path) -> int:
    """Start a payout run, take its batch file to the processor (here: everything paid), import the
    processor's results. Returns how many payouts were paid."""
    page.get_by_role("navigation", name="Site").get_by_role("link", name="Payouts").click()
    expect(page.get_by_role("heading", name="Payout runs")).to_be_visible()
    page.get_by_role("button", name="Start a run now").click()
    flash(page, "Run 1 reserved")
    journey.shot(page, "payout-run", main=True)
    with page.expect_download() as started:
        page.get_by_role("link", name="batch.csv").click()
    sent = list(csv.reader(io.StringIO(Path(started.value.path()).read_text())))
    assert sent and all(row[-1] == "PAYPAL" for row in sent), sent
    results = folder / "processor-results.csv"
    results.write_text("payout_id,status\n" + "".join(f"{row[3]},paid\n" for row in sent))
    page.get_by_label("Results (payout_id,status[,reason])").set_input_files(results)
    journey.shot(page, "results-chosen")
    page.get_by_role("button", name="Import results").click()
    flash(page, f"Results imported: {len(sent)} paid, 0 failed.")
    journey.shot(page, "results-imported")
    return len(sent)
