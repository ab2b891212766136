"""Build Health(4) and PortfolioMargin(4, 8), install their verifiers and write the forge
tests' real-proof fixtures.

python scripts/gen_forge_fixtures.py          # cached: re-proves only when something changed
python scripts/gen_forge_fixtures.py --force  # re-prove anyway

`make contracts-test` runs it before `forge test`. Outputs (gitignored, machine-specific because
the zkey is): contracts/src/generated/{Health4,Margin4x8}Verifier.sol, contracts/test/fixtures/{vault,margin,liquidate_many}.json.
"""

from __future__ import annotations

import sys

from zkrisk.engine.chain.batch_forge_fixtures import write_batch_fixtures
from zkrisk.engine.chain.forge_fixtures import write_forge_fixtures
from zkrisk.engine.chain.margin_forge_fixtures import CIRCUIT as MARGIN_CIRCUIT
from zkrisk.engine.chain.margin_forge_fixtures import write_margin_fixtures
from zkrisk.engine.paths import registry_path, repo_root
from zkrisk.prover.artifacts import build
from zkrisk.prover.registry import load_registry

CIRCUIT = "health4"


def main(argv: list[str]) -> int:
    registry = load_registry(registry_path())
    artifacts = build(registry[CIRCUIT], repo_root(), log=print)
    write_forge_fixtures(artifacts, force="--force" in argv)
    write_batch_fixtures(artifacts, force="--force" in argv)
    margin = build(registry[MARGIN_CIRCUIT], repo_root(), log=print)
    write_margin_fixtures(margin, force="--force" in argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
