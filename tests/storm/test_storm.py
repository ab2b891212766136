"""A small liquidation storm on a real Anvil node with real proofs: locally and through a real
prover pool (NATS + one `zkrisk prover-worker`)."""

from __future__ import annotations

import pytest

from zkrisk.engine.natsio.server import NatsNode
from zkrisk.engine.storm.harness import StormConfig, StormResult, run_storm

from ..nats_fixtures import nats_node  # noqa: F401  (fixture)

ACCOUNTS = 6


def _assert_every_account_liquidated_once(result: StormResult, *, batch: int) -> None:
    assert result.liquidated == ACCOUNTS
    assert result.chain_liquidations == ACCOUNTS, "the chain's Liquidated events agree"
    assert result.proofs == ACCOUNTS, "one proof per account, none twice"
    assert result.transactions == -(-ACCOUNTS // batch), "batched: fewer transactions"
    assert result.seconds > 0


def test_storm_when_proving_locally_then_every_account_is_liquidated_once_in_batches() -> None:
    result = run_storm(StormConfig(accounts=ACCOUNTS, workers=0, batch_size=4), log=lambda _: None)
    _assert_every_account_liquidated_once(result, batch=4)


def test_storm_with_one_pool_worker_then_every_account_is_liquidated_once(
    nats_node: NatsNode,  # noqa: F811
) -> None:
    config = StormConfig(accounts=ACCOUNTS, workers=1, batch_size=4, nats_url=nats_node.url)
    result = run_storm(config, log=lambda _: None)
    _assert_every_account_liquidated_once(result, batch=4)


@pytest.mark.parametrize("accounts", [0])
def test_storm_when_no_accounts_then_says_how_to_fix(accounts: int) -> None:
    with pytest.raises(ValueError, match="--accounts must be at least 1"):
        run_storm(StormConfig(accounts=accounts), log=lambda _: None)
