"""Consistency proofs made by the Python audit log, for the forge tests of AuditAnchor's verifier.

`write_audit_fixtures` writes contracts/test/fixtures/audit.json (gitignored; `make
contracts-test` writes it through `forge_fixtures.write_forge_fixtures`): a real `AuditLog` of
`ENTRIES` decision rows checkpointed every `EVERY`, and

- `c0`…: RFC 6962 consistency proofs (`MerkleTree.consistency_proof` over the log's leaves)
  between every pair of sizes 1 ≤ m < n ≤ `SMALL` (every shape of a small tree) and a few
  large, odd and power-of-two pairs, each with other sizes (`refused`, flattened pairs) the
  Python verifier refuses the proof for;
- `log`: the log's checkpoints in order, each with `AuditLog.consistency_proof` from the one
  before (what `AnchorSender` sends), for anchoring them one after another.

Keys are ordered as forge decodes JSON objects into structs (alphabetically).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from .audit import AuditLog
from .audit_merkle import verify_consistency
from .cli.audit import read_rows, tree_of
from .paths import repo_root

ENTRIES, EVERY, SMALL = 2_100, 500, 17
LARGE = ((500, 1000), (1000, 1500), (1500, 2000), (1024, 2048), (1023, 2047), (777, 1300),
         (1, 2100), (2099, 2100), (512, 2100))  # fmt: skip
T0 = 1_795_183_200_000_000_000


def audit_fixtures_path() -> Path:
    return repo_root() / "contracts" / "test" / "fixtures" / "audit.json"


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _refused(size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]) -> list[int]:
    """Other sizes the same proof and roots must not pass for, as Python's verifier says: some
    do pass (RFC 9162 checks the proof's shape, which trees of other sizes can share), so the
    forge test checks that the on-chain verifier refuses where this one does."""
    if size1 == 0:
        return [0, 0]  # unused: the first checkpoint takes no proof
    sizes = [(size1, size2 + 1), (size1, size2 + 2), (size1, 2 * size2), (size1 + 1, size2),
             (size1 - 1, size2), (size1, size2 + (1 << 40))]  # fmt: skip
    out: list[int] = []
    for m, n in sizes:
        if 0 < m < n and not verify_consistency(m, n, root1, root2, proof):
            out += (m, n)
    return out


def _case(size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]) -> dict[str, Any]:
    return {"proof": [_hex(p) for p in proof],
            "refused": _refused(size1, size2, root1, root2, proof),
            "root1": _hex(root1), "root2": _hex(root2), "size1": size1, "size2": size2}  # fmt: skip


def audit_fixtures(folder: Path) -> dict[str, Any]:
    """The fixtures, from a log written in `folder`."""
    path = folder / "audit.sqlite"
    log = AuditLog(path, checkpoint_every=EVERY, checkpoint_seconds=None)
    for i in range(1, ENTRIES + 1):
        log.append("check", f"desk-a-{i:06d}", "APPROVE" if i % 7 else "REJECT",
                   f'{{"order":{i}}}', f'{{"decision_id":{i}}}', at_ns=T0 + i)  # fmt: skip
    log.close()
    log = AuditLog(path, checkpoint_every=EVERY, checkpoint_seconds=None)
    try:
        tree = tree_of(read_rows(path)).tree
        pairs = [(m, n) for n in range(2, SMALL + 1) for m in range(1, n)] + list(LARGE)
        data: dict[str, Any] = {"cases": len(pairs)}
        for i, (m, n) in enumerate(pairs):
            data[f"c{i}"] = _case(m, n, tree.root(m), tree.root(n), tree.consistency_proof(m, n))
        steps: list[dict[str, Any]] = []
        size, root = 0, b"\0" * 32  # the first checkpoint: from the empty log, no proof
        for c in log.checkpoints():
            steps.append(_case(size, c.size, root, c.root, log.consistency_proof(size, c.size)))
            size, root = c.size, c.root
        data["log"] = {"steps": len(steps), **{f"s{i}": s for i, s in enumerate(steps)}}
    finally:
        log.close()
    return data


def write_audit_fixtures() -> Path:
    """Write the fixtures (a second, from a temporary log) unless the file holds them already."""
    with tempfile.TemporaryDirectory(prefix="zkrisk-audit-fixtures-") as folder:
        text = json.dumps(audit_fixtures(Path(folder)), indent=1) + "\n"
    path = audit_fixtures_path()
    if not path.is_file() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


if __name__ == "__main__":
    print(write_audit_fixtures().relative_to(repo_root()))
