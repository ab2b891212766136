"""RFC 6962 Merkle hashing and proofs against Certificate Transparency's reference vectors.

The vectors are those of transparency-dev/merkle (the Go library behind Trillian and the CT
logs): leaf inputs and roots from testonly/constants.go (LeafInputs, RootHashes), inclusion
and consistency proofs from proof/verify_test.go (inclusionProofs, consistencyProofs; their
leaf numbers are 1-based, ours are 0-based indices). The same values appear in
google/certificate-transparency's merkle_tree_test.cc.
"""

from __future__ import annotations

import pytest

from zkrisk.engine.audit_merkle import (
    EMPTY_ROOT,
    Frontier,
    MerkleTree,
    ProofError,
    consistency_proof_from,
    leaf_hash,
    root_from_inclusion,
    root_of,
    verify_consistency,
    verify_inclusion,
)

LEAF_INPUTS = [bytes.fromhex(h) for h in (
    "", "00", "10", "2021", "3031", "40414243", "5051525354555657",
    "606162636465666768696a6b6c6d6e6f",
)]  # fmt: skip
ROOTS = [bytes.fromhex(h) for h in (  # by tree size 1..8
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
)]  # fmt: skip


def _hashes(*hexes: str) -> list[bytes]:
    return [bytes.fromhex(h) for h in hexes]


INCLUSION = [  # (0-based leaf index, tree size, PATH)
    (0, 8, _hashes("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                   "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                   "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (5, 8, _hashes("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                   "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                   "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (2, 3, _hashes("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")),
    (1, 5, _hashes("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                   "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                   "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
    (0, 1, []),
]  # fmt: skip
CONSISTENCY = [  # (size1, size2, PROOF)
    (1, 8, _hashes("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                   "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                   "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4")),
    (6, 8, _hashes("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                   "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                   "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (2, 5, _hashes("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                   "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")),
    (6, 7, _hashes("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                   "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                   "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")),
    (1, 1, []),
]  # fmt: skip
TREE = MerkleTree([leaf_hash(d) for d in LEAF_INPUTS])


def test_the_empty_tree_hashes_to_sha256_of_nothing() -> None:
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert TREE.root(0) == Frontier().root() == EMPTY_ROOT


@pytest.mark.parametrize("size", range(1, 9))
def test_roots_of_every_prefix_match_the_reference_vectors(size: int) -> None:
    assert TREE.root(size) == ROOTS[size - 1]
    assert root_of(TREE.leaves[:size]) == ROOTS[size - 1]


def test_the_frontier_gives_the_reference_root_after_every_append() -> None:
    frontier = Frontier()
    for size, leaf in enumerate(TREE.leaves, start=1):
        frontier.append(leaf)
        assert frontier.root() == ROOTS[size - 1]
        assert len(frontier.nodes) == size.bit_count()
        restored = Frontier.from_bytes(size, frontier.to_bytes())
        assert restored.root() == ROOTS[size - 1]


def test_extending_a_frontier_by_a_batch_is_appending_each_leaf() -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(70)]
    for cut in range(70):
        one, batch = Frontier(), Frontier()
        for leaf in leaves:
            one.append(leaf)
        batch.extend(leaves[:cut])
        batch.extend(leaves[cut:])
        assert (batch.size, batch.nodes) == (one.size, one.nodes)


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION)
def test_inclusion_proofs_match_and_verify_against_the_reference_vectors(
    index: int, size: int, path: list[bytes]
) -> None:
    assert TREE.inclusion_proof(index, size) == path
    assert verify_inclusion(index, size, TREE.leaves[index], path, ROOTS[size - 1])


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY)
def test_consistency_proofs_match_and_verify_against_the_reference_vectors(
    size1: int, size2: int, proof: list[bytes]
) -> None:
    assert TREE.consistency_proof(size1, size2) == proof
    assert verify_consistency(size1, size2, ROOTS[size1 - 1], ROOTS[size2 - 1], proof)


def test_every_inclusion_and_consistency_proof_of_every_size_up_to_33_verifies() -> None:
    tree = MerkleTree([leaf_hash(i.to_bytes(4, "big")) for i in range(33)])
    for size in range(1, 34):
        root = tree.root(size)
        for index in range(size):
            assert verify_inclusion(index, size, tree.leaves[index],
                                    tree.inclusion_proof(index, size), root)  # fmt: skip
        for size1 in range(size + 1):
            proof = tree.consistency_proof(size1, size)
            assert verify_consistency(size1, size, tree.root(size1), root, proof)


def test_a_consistency_proof_from_a_frontier_and_the_leaves_after_it_is_the_full_trees() -> None:
    # What the audit log proves from: the frontier checkpointed at size1, and the rows since.
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(40)]
    tree = MerkleTree(leaves)
    for size1 in range(1, 40):
        frontier = Frontier()
        for leaf in leaves[:size1]:
            frontier.append(leaf)
        for size2 in range(size1, 41):
            assert consistency_proof_from(size1, frontier.nodes, leaves[size1:size2]) \
                == tree.consistency_proof(size1, size2), (size1, size2)  # fmt: skip


def _flipped(proof: list[bytes], i: int) -> list[bytes]:
    return [bytes([p[0] ^ 8, *p[1:]]) if j == i else p for j, p in enumerate(proof)]


@pytest.mark.parametrize(("index", "size", "path"), INCLUSION[:4])
def test_a_corrupted_inclusion_proof_is_refused(index: int, size: int, path: list[bytes]) -> None:
    # The probes of transparency-dev/merkle's corruptInclusionProof.
    leaf, root = TREE.leaves[index], ROOTS[size - 1]
    probes = [
        (index - 1, size, leaf, path, root), (index + 1, size, leaf, path, root),
        (index ^ 2, size, leaf, path, root), (index, size * 2, leaf, path, root),
        (index, size // 2, leaf, path, root), (index, size, b"WrongLeaf", path, root),
        (index, size, leaf, path, EMPTY_ROOT), (index, size, leaf, [*path, root], root),
        (index, size, leaf, [root, *path], root), (index, size, leaf, path[:-1], root),
        *((index, size, leaf, _flipped(path, i), root) for i in range(len(path))),
    ]  # fmt: skip
    for probe in probes:
        assert not verify_inclusion(*probe), probe


@pytest.mark.parametrize(("size1", "size2", "proof"), CONSISTENCY[:4])
def test_a_corrupted_consistency_proof_is_refused(
    size1: int, size2: int, proof: list[bytes]
) -> None:
    # The probes of transparency-dev/merkle's corruptConsistencyProof.
    r1, r2 = ROOTS[size1 - 1], ROOTS[size2 - 1]
    probes = [
        (size1 - 1, size2, r1, r2, proof), (size1 + 1, size2, r1, r2, proof),
        (size1 ^ 2, size2, r1, r2, proof), (size1, size2 * 2, r1, r2, proof),
        (size1, size2 // 2, r1, r2, proof), (size1, size2, b"WrongRoot", r2, proof),
        (size1, size2, r1, b"WrongRoot", proof), (size1, size2, r2, r1, proof),
        (size1, size2, r1, r2, []), (size1, size2, r1, r2, [*proof, r1]),
        (size1, size2, r1, r2, [*proof, r2]), (size1, size2, r1, r2, [r1, *proof]),
        (size1, size2, r1, r2, [r2, *proof]), (size1, size2, r1, r2, [proof[0], *proof]),
        (size1, size2, r1, r2, proof[:-1]),
        *((size1, size2, r1, r2, _flipped(proof, i)) for i in range(len(proof))),
    ]  # fmt: skip
    for probe in probes:
        assert not verify_consistency(*probe), probe


def test_proofs_for_impossible_sizes_are_refused_with_a_reason() -> None:
    with pytest.raises(ProofError, match="not in a tree of 8"):
        TREE.inclusion_proof(8, 8)
    with pytest.raises(ProofError, match="beyond the 8 leaves"):
        TREE.consistency_proof(2, 9)
    with pytest.raises(ProofError, match="between 0 and the second"):
        TREE.consistency_proof(5, 3)
    with pytest.raises(ProofError, match="32"):
        root_from_inclusion(0, 2, TREE.leaves[0], [b"short"])


def test_root_from_an_inclusion_proof_of_the_wrong_length_names_which_way_it_is_wrong() -> None:
    index, size, path = INCLUSION[0]
    with pytest.raises(ProofError, match="longer than the tree is deep"):
        root_from_inclusion(index, size, TREE.leaves[index], [*path, ROOTS[0]])
    with pytest.raises(ProofError, match="shorter than the tree is deep"):
        root_from_inclusion(index, size, TREE.leaves[index], path[:-1])
