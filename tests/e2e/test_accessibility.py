"""Every page of each role passes axe-core with no serious or critical violation, at 1280 px and at
390 px (the same pages as the phone-width check: the URL map's HTML pages, and the error pages a
role gets).

axe-core is vendored for the tests (tests/e2e/vendor/axe-core, by scripts/refresh-vendor.sh) and
added to each page as an init script, which the page's Content-Security-Policy doesn't govern.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.site import log_in, pages

pytestmark = [pytest.mark.e2e]

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
WIDTHS = ({"width": 1280, "height": 800}, {"width": 390, "height": 844})
BLOCKING = ("serious", "critical")
#: Two frames: the page's resize handlers have run (they run before the frame's rendering).
AFTER_RESIZE = "() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))"
RUN_AXE = """async () => {
  const result = await axe.run(document, {resultTypes: ["violations"]});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + ": " + (n.failureSummary || "").split("\\n")[1])}));
}"""


def violations(page) -> list[dict]:
    return [v for v in page.evaluate(RUN_AXE) if v["impact"] in BLOCKING]


@pytest.mark.parametrize("role", ["anonymous", "platform", "buyer", "contributor", "admin"])
def test_every_page_passes_axe_at_both_widths(browser, live_server, app, world, role):
    context = browser.new_context(base_url=live_server.url, viewport=WIDTHS[0])
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    try:
        if world["roles"][role]:
            log_in(page, world["roles"][role])
        found, checked = [], 0
        for url in pages(app, world["values"]):
            page.set_viewport_size(WIDTHS[0])
            page.goto(url)
            page.wait_for_load_state("load")
            for width in WIDTHS:
                page.set_viewport_size(width)
                page.evaluate(AFTER_RESIZE)
                checked += 1
                for violation in violations(page):
                    found.append(f"{url} at {width['width']} px: {violation['impact']} {violation['id']} "
                                 f"({violation['help']}): {violation['nodes']}")
        assert checked >= 50
        assert not found, f"axe as {role}:\n" + "\n".join(found)
    finally:
        context.close()


def test_axe_finds_a_violation(browser, live_server):
    """The check can fail: a page with an unlabeled field and unreadable text is reported."""
    context = browser.new_context(base_url=live_server.url)
    context.add_init_script(path=str(AXE))
    page = context.new_page()
    try:
        page.goto("/login")
        page.evaluate("""() => {
            document.querySelector('label[for=email]').remove();
            document.querySelector('h1').style.color = '#f4f4f4';
        }""")
        ids = {v["id"] for v in violations(page)}
        assert {"label", "color-contrast"} <= ids, ids
    finally:
        context.close()
