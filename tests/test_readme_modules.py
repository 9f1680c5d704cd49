"""The README's "How it works" table names every module and package of ``simulator/``, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _table_names() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index("| module | owns |")
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        rows.append(line.split("|")[1])
    return set(re.findall(r"`([A-Za-z_]+(?:\.py|/))`", "".join(rows)))


def _package_names() -> set[str]:
    package = ROOT / "simulator"
    modules = {p.name for p in package.glob("*.py")}
    packages = {p.name + "/" for p in package.iterdir() if (p / "__init__.py").is_file()}
    return modules | packages


def test_every_module_and_package_has_a_row() -> None:
    missing = _package_names() - _table_names()
    assert not missing, f"README.md's module table lacks {sorted(missing)}"


def test_the_table_names_no_module_that_is_gone() -> None:
    gone = _table_names() - _package_names()
    assert not gone, f"README.md's module table names {sorted(gone)}, which simulator/ does not have"
