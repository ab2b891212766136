"""A wheel holds every sub-package: pyproject lists them by hand (package-dir maps two roots)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROOTS = {"engine": "zkrisk.engine", "prover": "zkrisk.prover"}


def _packages_on_disk() -> set[str]:
    found = set()
    for folder, dotted in ROOTS.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(ROOT / folder).parts
            found.add(".".join((dotted, *parts)))
    return found


def test_every_package_on_disk_is_listed_in_pyproject() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    missing = _packages_on_disk() - listed
    assert not missing, f"add to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"
