"""docs/RELIABILITY.md stays true: every test it names exists, and every fault test is named in it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "RELIABILITY.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def functions_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_named_test_exists() -> None:
    references = REFERENCE.findall(DOC.read_text())
    assert len(references) > 30
    missing = [
        f"{path}::{name}"
        for path, name in references
        if not (ROOT / path).exists() or name not in functions_in(ROOT / path)
    ]
    assert missing == []


def test_every_fault_test_is_documented() -> None:
    named = set(REFERENCE.findall(DOC.read_text()))
    undocumented = [
        f"{path.relative_to(ROOT)}::{name}"
        for path in sorted((ROOT / "tests" / "faults").glob("test_*.py"))
        for name in sorted(functions_in(path))
        if (str(path.relative_to(ROOT)), name) not in named
    ]
    assert undocumented == []
