"""circheck (PyPI 0.3.0) over every template it can parse; each finding fixed or explained.

circheck has no include path (-l), so the templates are copied into a temporary folder beside a
`circomlib` link, and it needs a `component main`, so each template gets a small instance.
Templates that include circomlib's Poseidon are out of its reach: at its own recursion limit
(5,000) it fails on poseidon_constants.circom; with the limit lifted it parses for ~5 minutes and
then its type checker crashes (KeyError 'out'). Those are Health, Limits, RiskAttestation,
CommittedBook, PortfolioCommitment, PoseidonChain and SnapshotHash; `circom --inspect`
(test_inspect.py) and the range audit (test_public_inputs_bounded.py) cover them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from zkrisk.prover.toolchain import find_node_modules

CIRCHECK = Path(sys.executable).with_name("circheck")

#: Template → parameters of the instance circheck analyses (findings do not depend on size).
INSTANCES = {
    "RangeCheck": "8",
    "AssertLessOrEqual": "8",
    "BoundedLessThan": "8",
    "SignedQuantity": "",
    "TailCount": "20",
    "TailRisk": "4, 20",
    "BookLimits": "4",
}

#: (template, signal) → why circheck's finding is not a bug (also in the template's header).
EXPLAINED = {
    ("TailCount", "m"): "m <-- ⌊(10⁴−α)·K/10⁴⌋ is pinned by (10⁴−α)·K = m·10⁴ + r with m and "
    "r range-checked: a quotient by a witness, the constraint is the division's definition",
    ("TailCount", "remainder"): "the remainder of the same division, 0 ≤ r ≤ 9999 checked",
}


def circheck_findings(template: str, params: str, work: Path) -> list[tuple[str, str]]:
    """(template, signal) of every circheck warning for `template(params)`."""
    main = work / f"main_{template}.circom"
    main.write_text(f'pragma circom 2.1.6;\ninclude "{template}.circom";\n'
                    f"component main = {template}({params});\n")  # fmt: skip
    report = work / f"{template}.json"
    proc = subprocess.run(
        [str(CIRCHECK), main.name, "--json", str(report)],
        cwd=work, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert report.exists(), f"circheck failed on {template}: {proc.stdout[-2000:]}"
    findings = []
    for detectors in json.loads(report.read_text()).values():
        for by_place in detectors.values():
            for place, messages in by_place.items():
                for message in messages:
                    signal = message.split("'")[1] if "'" in message else message
                    findings.append((Path(place.split(":")[0]).stem, signal))
    return findings


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("circheck")
    shutil.copytree(REPO / "circuits", folder, dirs_exist_ok=True)
    (folder / "circomlib").symlink_to(find_node_modules() / "circomlib")
    return folder


def test_circheck_is_installed() -> None:
    assert CIRCHECK.exists(), "circheck is a dev dependency: pip install -e '.[dev]'"


@pytest.mark.parametrize("template", sorted(INSTANCES))
def test_circheck_findings_are_all_explained(template: str, work: Path) -> None:
    findings = circheck_findings(template, INSTANCES[template], work)
    unexplained = [f for f in findings if f not in EXPLAINED]
    assert unexplained == []
