"""Copy circomlib's Poseidon constants (widths t = 2..17, i.e. 1..16 inputs) into the prover.

Sixteen inputs: circuits/PoseidonChainWide.circom hashes 15 values per Poseidon(16) call.

The pure-Python Poseidon must equal circomlib's bit for bit, and a counterparty that only has
Python must be able to recompute a commitment, so the constants ship with the package instead
of being read from node_modules at run time. Re-run after a circomlibjs upgrade:

    python scripts/vendor_poseidon_constants.py
"""

import json
from pathlib import Path

MAX_INPUTS = 16
ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "node_modules" / "circomlibjs" / "src" / "poseidon_constants.json"
TARGET = ROOT / "prover" / "data" / "poseidon_bn254.json"


def main() -> None:
    data = json.loads(SOURCE.read_text())
    version = json.loads((SOURCE.parents[1] / "package.json").read_text())["version"]
    out = {
        "source": f"circomlibjs {version} src/poseidon_constants.json",
        "max_inputs": MAX_INPUTS,
        "C": data["C"][:MAX_INPUTS],
        "M": data["M"][:MAX_INPUTS],
    }
    TARGET.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(f"wrote {TARGET.relative_to(ROOT)} ({TARGET.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
