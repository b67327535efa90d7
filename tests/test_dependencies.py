"""Dependencies between domains point one way: the ledger knows accounts and money, nothing of
the product; no two domains import each other, directly or round a longer loop."""
from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "marketplace"
#: Folders of marketplace/ that are domains (the rest is shared: db, errors, boundary, money…).
DOMAINS = {path.name for path in PACKAGE.iterdir() if path.is_dir() and (path / "__init__.py").exists()
           and path.name != "migrations"}


def imported_domains(domain: str) -> dict[str, set[str]]:
    """{other domain: {file importing it}} for every import in `domain`, at any depth of the code."""
    found: dict[str, set[str]] = {}
    for source in (PACKAGE / domain).rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(), str(source))):
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [node.module] + ([f"{node.module}.{a.name}" for a in node.names]
                                           if node.module == "marketplace" else [])
            elif isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            else:
                continue
            for module in modules:
                parts = module.split(".")
                if parts[0] == "marketplace" and len(parts) > 1 and parts[1] in DOMAINS and parts[1] != domain:
                    found.setdefault(parts[1], set()).add(source.name)
    return found


GRAPH = {domain: imported_domains(domain) for domain in DOMAINS}


def test_the_ledger_imports_no_product_domain():
    product = {"catalog", "consent", "licensing", "payments", "allocation", "contributors", "transparency"}
    assert not (set(GRAPH["ledger"]) & product), {d: GRAPH["ledger"][d] for d in set(GRAPH["ledger"]) & product}


def test_no_import_cycle_between_domains():
    cycles = []

    def visit(domain: str, path: list[str]) -> None:
        for other in GRAPH[domain]:
            if other == path[0]:
                cycles.append(" → ".join([*path, other]))
            elif other not in path and other > path[0]:  # each cycle once, from its smallest name
                visit(other, [*path, other])

    for start in sorted(DOMAINS):
        visit(start, [start])
    assert not cycles, cycles


def test_the_graph_sees_imports():
    """The test can fail: licensing does import payments (it hands payments a license to pay)."""
    assert "payments" in GRAPH["licensing"] and "licensing" not in GRAPH["payments"]
