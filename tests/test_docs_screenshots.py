"""The README's pictures: every image it shows is committed under docs/screenshots/, is a PNG
under 300 KB, and every committed screenshot is shown (`make screenshots` regenerates them)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "docs" / "screenshots"
PNG = b"\x89PNG\r\n\x1a\n"


def test_the_readme_shows_every_screenshot_and_each_is_a_small_png():
    shown = set(re.findall(r"!\[[^\]]+\]\((docs/screenshots/[^)]+)\)", (ROOT / "README.md").read_text()))
    committed = {f"docs/screenshots/{path.name}" for path in SHOTS.glob("*.png")}
    assert len(shown) >= 20
    assert shown == committed, (shown ^ committed)
    for path in SHOTS.glob("*.png"):
        data = path.read_bytes()
        assert data.startswith(PNG), path.name
        assert len(data) < 300 * 1024, (path.name, len(data))
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert (width, height) == (1280, 800), (path.name, width, height)
