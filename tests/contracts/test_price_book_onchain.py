"""PriceBook on Anvil: the on-chain Poseidon snapshot hash equals the engine's; a feed with no
valid answer (stale, non-positive, incomplete round) and no secondary makes snapshots revert
with PriceBook__NoValidPrice(slot); snapshots are rate-limited."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from zkrisk.engine.chain import dev_scenario as ds
from zkrisk.engine.chain.client import TransactionReverted
from zkrisk.engine.keeper.devnet import snapshot_now
from zkrisk.engine.statements.snapshot import snapshot_hash
from zkrisk.prover.field import SNARK_SCALAR_FIELD
from zkrisk.prover.poseidon import poseidon

from .world import VaultWorld, rpc


def test_poseidon_contract_equals_the_python_poseidon(world: VaultWorld) -> None:
    rng = random.Random(6)
    fn = world.stack.poseidon.functions.poseidon
    vectors = [[0] * 5, [SNARK_SCALAR_FIELD - 1] * 5] + [
        [rng.randrange(SNARK_SCALAR_FIELD) for _ in range(5)] for _ in range(6)
    ]
    for vector in vectors:
        assert fn(vector).call() == poseidon(vector)


def test_snapshot_hash_of_random_prices_equals_the_engines(world: VaultWorld) -> None:
    rng = random.Random(7)
    fn = world.stack.price_book.functions.snapshotHashOf
    for _ in range(8):
        n = rng.randint(1, 4)
        prices = [rng.randrange(1 << 64) for _ in range(n)]
        lts = [rng.randrange(1 << 16) for _ in range(n)]
        sid = rng.randrange(1 << 64)
        padded_p, padded_l = prices + [0] * (4 - n), lts + [0] * (4 - n)
        assert fn(sid, prices, lts).call() == snapshot_hash(sid, padded_p, padded_l)


def test_take_snapshot_commits_the_engines_hash_and_emits_its_preimage(world: VaultWorld) -> None:
    with world.isolated():
        snap = snapshot_now(world.keeper)  # permissionless
        expected_prices = (*(int(ds.CALM[a.symbol] * 10**8) for a in ds.ASSETS), 0)
        assert snap.prices == expected_prices  # WETH's 18-decimal feed scaled to 8 decimals
        assert snap.liquidation_thresholds == (9_000, 8_250, 7_800, 0)
        assert snap.hash == snapshot_hash(
            snap.snapshot_id, snap.prices, snap.liquidation_thresholds
        )
        assert world.keeper.snapshot(snap.snapshot_id) == snap  # read back from storage + event


def test_take_snapshot_when_a_price_is_stale_then_reverts_with_a_readable_error(
    world: VaultWorld,
) -> None:
    with world.isolated():
        world.advance(ds.PRICE_BOOK_MAX_AGE + 1)
        with pytest.raises(TransactionReverted, match="PriceBook__NoValidPrice") as info:
            world.keeper.take_snapshot()
        assert info.value.decoded is not None
        assert dict(info.value.decoded.args)["slot"] == 0
        assert "fresh, in-bounds price" in str(info.value)


@pytest.mark.parametrize("price", [Decimal(0), Decimal(-1)])
def test_take_snapshot_when_a_price_is_not_positive_then_reverts(
    world: VaultWorld, price: Decimal
) -> None:
    with world.isolated():
        feed = world.stack.feeds["WBTC"]
        world.admin.chain.transact(feed.functions.setAnswer(int(price * 10**8)))
        world.advance(1)
        with pytest.raises(TransactionReverted, match=r"PriceBook__NoValidPrice\(slot=2\)"):
            world.keeper.take_snapshot()


@pytest.mark.parametrize(("updated", "answered_in"), [("now", 4), (0, 5)])
def test_take_snapshot_when_a_round_is_incomplete_then_reverts(
    world: VaultWorld, updated: int | str, answered_in: int
) -> None:
    with world.isolated():
        feed = world.stack.feeds["WETH"]
        now = world.now() if updated == "now" else int(updated)
        fn = feed.functions.setRound(5, 3_000 * 10**18, now, now, answered_in)
        world.admin.chain.transact(fn)
        world.advance(1)
        with pytest.raises(TransactionReverted, match=r"PriceBook__NoValidPrice\(slot=1\)"):
            world.keeper.take_snapshot()


def test_two_snapshots_in_one_block_then_the_second_reverts_saying_when(
    world: VaultWorld,
) -> None:
    chain = world.keeper.chain
    with world.isolated():
        world.advance(1)
        start = chain.w3.eth.get_transaction_count(chain.account.address)
        txs = [
            {"from": chain.account.address, "to": world.keeper.price_book.address,
             "data": world.keeper.price_book.functions.takeSnapshot()._encode_transaction_data(),
             "gas": 1_000_000, "nonce": start + i, "chainId": chain.chain_id,
             "maxFeePerGas": 10**10, "maxPriorityFeePerGas": 10**9}
            for i in range(2)
        ]  # fmt: skip
        rpc(world.w3, "evm_setAutomine", False)
        try:
            hashes = [chain.w3.eth.send_raw_transaction(
                chain.account.sign_transaction(tx).raw_transaction) for tx in txs]  # fmt: skip
            rpc(world.w3, "evm_mine")
        finally:
            rpc(world.w3, "evm_setAutomine", True)
        first, second = (chain.w3.eth.get_transaction_receipt(h) for h in hashes)
        assert (first["status"], second["status"]) == (1, 0)
        assert first["blockNumber"] == second["blockNumber"]
        explained = chain._explain_failure(txs[1], second)
        assert explained.error == "PriceBook__SnapshotTooSoon"
        assert "retry at nextAllowedAt" in str(explained)
