"""Reading the personal-data figures off the pages that show them."""
from __future__ import annotations

import re


def removed_on_page(html: str) -> tuple[int, dict[str, int]]:
    """(records, {type: count}) from the statement page's "Personal data removed" table."""
    records = re.search(r"in ([\d,]+) of your records", html)
    counts = {kind: int(n) for kind, n in re.findall(
        r'<tr data-pii-type="(\w+)">.*?data-count="(\d+)"', html)}
    return (int(records.group(1).replace(",", "")) if records else 0), counts
