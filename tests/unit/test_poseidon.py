"""The Python Poseidon equals circomlibjs' on vectors computed by circomlibjs in this test."""

from __future__ import annotations

import json
import random
import subprocess

import pytest

from zkrisk.prover.field import SNARK_SCALAR_FIELD
from zkrisk.prover.hashing import poseidon_chain
from zkrisk.prover.poseidon import max_inputs, poseidon
from zkrisk.prover.toolchain import find_node_modules, node

from ..conftest import REPO

_JS = """
const {buildPoseidon} = require(process.argv[1] + "/circomlibjs");
(async () => {
  const vectors = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const p = await buildPoseidon();
  console.log(JSON.stringify(vectors.map(v => p.F.toString(p(v.map(BigInt))))));
})();
"""


def _vectors() -> list[list[int]]:
    rng = random.Random(20261121)
    vectors: list[list[int]] = [[0], [1, 2], [SNARK_SCALAR_FIELD - 1] * 3]
    for n in range(1, max_inputs() + 1):
        for _ in range(4):
            vectors.append([rng.randrange(SNARK_SCALAR_FIELD) for _ in range(n)])
        vectors.append([rng.randrange(1 << 64) for _ in range(n)])
    return vectors


def _circomlibjs(vectors: list[list[int]]) -> list[int]:
    proc = subprocess.run(
        [str(node()), "-e", _JS, str(find_node_modules())],
        input=json.dumps([[str(x) for x in v] for v in vectors]),
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    return [int(x) for x in json.loads(proc.stdout)]


def test_poseidon_matches_circomlibjs_on_every_supported_width() -> None:
    vectors = _vectors()
    expected = _circomlibjs(vectors)
    assert [poseidon(v) for v in vectors] == expected


def test_poseidon_chain_matches_circomlibjs_folding_four_at_a_time() -> None:
    values = list(range(1, 10))
    seed = 42
    hashes = _circomlibjs([[seed, 1, 2, 3, 4]])
    acc = hashes[0]
    acc = _circomlibjs([[acc, 5, 6, 7, 8]])[0]
    acc = _circomlibjs([[acc, 9, 0, 0, 0]])[0]
    assert poseidon_chain(seed, values) == acc


def test_poseidon_rejects_inputs_outside_the_field() -> None:
    with pytest.raises(ValueError, match="not a BN254 field element"):
        poseidon([SNARK_SCALAR_FIELD])


def test_poseidon_rejects_too_many_inputs() -> None:
    with pytest.raises(ValueError, match=r"takes 1\.\.16 inputs"):
        poseidon([1] * 17)
