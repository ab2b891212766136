"""The signer sends what it signed (`broadcast`): through a relay (tests/signer/relay_server.py
stands in for a private-mempool service) or the public node by policy, against a real signer
process and real Anvil; and a SIGKILL between signing and sending loses nothing and sends
nothing twice."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import count
from pathlib import Path
from typing import Any

import httpx
import pytest
from web3 import Web3

from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, AnvilNode
from zkrisk.engine.chain.client import ChainClient
from zkrisk.engine.chain.uniswap_deploy import UniswapAddresses, deploy_uniswap

from .relay_server import REFUSAL, RelayServer, relay_server, unreachable_url
from .support import TRADER, TRADER_KEY, approve, request, signer_process, swap_data, write_setup
from .support import transaction as unsigned

_approval_nonce = count(1)


@dataclass
class Chain:
    node: AnvilNode
    venue: UniswapAddresses
    w3: Web3

    def knows(self, tx_hash: str) -> bool:
        """Has the public node seen `tx_hash` (pending or mined)?"""
        reply = self.w3.provider.make_request("eth_getTransactionByHash", [tx_hash])  # type: ignore[arg-type]
        return reply["result"] is not None

    def mined(self, tx_hash: str) -> bool:
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=10)  # type: ignore[arg-type]
        return bool(receipt["status"] == 1)


@pytest.fixture(scope="module")
def chain(anvil_node: AnvilNode) -> Chain:
    """Uniswap on Anvil; the trader holds WETH and lets the router take it."""
    uni = deploy_uniswap(ChainClient.connect(anvil_node.url, DEV_PRIVATE_KEYS[0]))
    trader = ChainClient.connect(anvil_node.url, TRADER_KEY)
    uni.mint("WETH", TRADER, Decimal(20))
    weth = trader.w3.eth.contract(address=uni.tokens["WETH"].address, abi=uni.tokens["WETH"].abi)
    trader.transact(weth.functions.approve(uni.router.address, 2**256 - 1))
    return Chain(anvil_node, uni.addresses, trader.w3)


@pytest.fixture
def relay(chain: Chain) -> Iterator[RelayServer]:
    with relay_server(chain.node.url) as running:
        yield running


def setup(folder: Path, chain: Chain, relay: dict[str, Any] | None, **policy: Any) -> None:
    """signer.toml for the Anvil venue with a `[relay]` table (None: none)."""
    config, _, _ = write_setup(folder, chain.venue, **policy)
    if relay is not None:
        table = "".join(f"{k} = {_toml(v)}\n" for k, v in relay.items())
        config.write_text(config.read_text() + "[relay]\n" + table)


def _toml(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def swap(chain: Chain, broadcast: bool = True) -> dict[str, Any]:
    """A fresh approved swap at the trader's next nonce, as a /v1/sign body."""
    w3 = chain.w3
    latest = w3.eth.get_block("latest")
    data = swap_data(chain.venue, exact=10**17, bound=100_000, deadline=latest["timestamp"] + 600)
    tx = unsigned(chain.venue, data, nonce=w3.eth.get_transaction_count(TRADER),
                  maxFeePerGas=2 * int(latest["baseFeePerGas"]) + 10**9)  # fmt: skip
    approval = approve(chain.venue, data, nonce=next(_approval_nonce), quantity="0.1")
    return request(approval, tx) | {"broadcast": broadcast}


def test_a_broadcast_through_the_relay_is_private_until_mined(
    chain: Chain, relay: RelayServer, tmp_path: Path
) -> None:
    setup(tmp_path, chain, {"url": relay.url}, public_rpc_url=chain.node.url)
    relay.mode = "hold"  # the relay's private pool: Anvil (the public node) sees nothing yet
    with signer_process(tmp_path) as signer:
        reply = signer.sign(swap(chain))
    assert reply.status_code == 200, reply.text
    body = reply.json()
    assert body["route"] == "relay"
    assert not chain.knows(body["tx_hash"])
    ((method, params),) = relay.calls
    assert method == "eth_sendPrivateTransaction" and params[0]["tx"] == body["raw_transaction"]
    assert int(params[0]["maxBlockNumber"], 16) == chain.w3.eth.block_number + 25
    relay.release()
    assert chain.mined(body["tx_hash"])


def test_a_bundle_relay_gets_a_one_transaction_bundle_for_the_next_block(
    chain: Chain, relay: RelayServer, tmp_path: Path
) -> None:
    setup(tmp_path, chain, {"url": relay.url, "method": "eth_sendBundle"},
          public_rpc_url=chain.node.url)  # fmt: skip
    block = chain.w3.eth.block_number
    with signer_process(tmp_path) as signer:
        reply = signer.sign(swap(chain))
    assert reply.status_code == 200 and reply.json()["route"] == "relay", reply.text
    ((method, params),) = relay.calls
    assert method == "eth_sendBundle"
    assert params == [{"txs": [reply.json()["raw_transaction"]], "blockNumber": hex(block + 1)}]
    assert chain.mined(reply.json()["tx_hash"])


@pytest.mark.parametrize("failure", ["down", "refuse"])
def test_a_failing_relay_falls_back_to_the_public_node_when_the_policy_allows(
    chain: Chain, relay: RelayServer, tmp_path: Path, failure: str
) -> None:
    url = unreachable_url() if failure == "down" else relay.url
    relay.mode = "refuse"
    setup(tmp_path, chain, {"url": url, "fallback": "public", "timeout_s": 2},
          public_rpc_url=chain.node.url)  # fmt: skip
    with signer_process(tmp_path) as signer:
        reply = signer.sign(swap(chain))
    assert reply.status_code == 200, reply.text
    assert reply.json()["route"] == "public"
    assert chain.mined(reply.json()["tx_hash"])


@pytest.mark.parametrize("mode", ["down", "refuse"])
def test_a_failing_relay_with_fallback_none_is_an_error_naming_it_and_nothing_public(
    chain: Chain, relay: RelayServer, tmp_path: Path, mode: str
) -> None:
    url = unreachable_url() if mode == "down" else relay.url
    relay.mode = "refuse"
    setup(tmp_path, chain, {"url": url, "fallback": "none", "timeout_s": 2},
          public_rpc_url=chain.node.url)  # fmt: skip
    body = swap(chain)
    with signer_process(tmp_path) as signer:
        failed = signer.sign(body)
        assert failed.status_code == 502, failed.text
        error = failed.json()
        assert error["refused"] == "NOT_DELIVERED" and url in error["detail"]
        assert (REFUSAL if mode == "refuse" else "unreachable") in error["detail"]
        assert not chain.knows(error["tx_hash"])
    setup(tmp_path, chain, {"url": relay.url, "fallback": "none"}, public_rpc_url=chain.node.url)
    relay.mode = "forward"
    with signer_process(tmp_path) as restarted:  # the failure is not retried by the restart
        assert len(relay.calls) == (0 if mode == "down" else 1)
        retry = restarted.sign(body)  # the signature is on record: the same one is sent
    assert retry.status_code == 200 and retry.json()["replayed"] is True, retry.text
    assert retry.json()["tx_hash"] == error["tx_hash"] and retry.json()["route"] == "relay"
    assert chain.mined(error["tx_hash"])


def test_a_retry_of_a_delivered_request_gets_the_same_hash_and_sends_nothing(
    chain: Chain, relay: RelayServer, tmp_path: Path
) -> None:
    setup(tmp_path, chain, {"url": relay.url})  # no public node to ask: the record answers
    body = swap(chain)
    with signer_process(tmp_path) as signer:
        first = signer.sign(body)
        again = signer.sign(body)
    with signer_process(tmp_path) as restarted:
        after_restart = restarted.sign(body)
    assert first.status_code == 200, first.text
    for retry in (again, after_restart):
        assert retry.status_code == 200 and retry.json()["replayed"] is True, retry.text
        assert (retry.json()["tx_hash"], retry.json()["route"]) == (
            first.json()["tx_hash"],
            "relay",
        )
    assert relay.received(first.json()["raw_transaction"]) == 1
    assert chain.mined(first.json()["tx_hash"])


@pytest.mark.parametrize(
    "crash_at",
    [
        "signer.after_claim",
        "signer.after_sign_before_send",
        "signer.after_send_before_record",
        "signer.before_reply",
    ],
)
def test_a_sigkill_around_the_send_then_a_restart_mines_it_once_sent_once(
    chain: Chain, relay: RelayServer, tmp_path: Path, crash_at: str
) -> None:
    setup(tmp_path, chain, {"url": relay.url}, public_rpc_url=chain.node.url)
    body = swap(chain)
    wallet_nonce = body["transaction"]["nonce"]
    with signer_process(tmp_path, crash_at=crash_at) as crashing:
        with pytest.raises(httpx.TransportError):
            crashing.sign(body)
        assert crashing.process.wait(timeout=10) == -9
    with signer_process(tmp_path) as restarted:  # sends what the crash left signed, not sent
        assert len(relay.calls) == (0 if crash_at == "signer.after_claim" else 1)
        retry = restarted.sign(body)  # the client's retry after the lost reply
    assert retry.status_code == 200, retry.text
    tx_hash, raw = retry.json()["tx_hash"], retry.json()["raw_transaction"]
    assert retry.json()["route"] == "relay"
    assert chain.mined(tx_hash)
    assert relay.received(raw) == 1
    assert len(relay.calls) == 1
    assert chain.w3.eth.get_transaction_count(TRADER) == wallet_nonce + 1


def test_broadcast_with_no_route_is_refused_before_anything_is_signed(
    chain: Chain, tmp_path: Path
) -> None:
    setup(tmp_path, chain, None)
    body = swap(chain)
    with signer_process(tmp_path) as signer:
        refused = signer.sign(body)
        assert refused.status_code == 403 and refused.json()["refused"] == "NO_ROUTE"
        assert "public_rpc_url" in refused.json()["detail"]
        signed = signer.sign(body | {"broadcast": False})  # the approval's nonce is still unused
    assert signed.status_code == 200 and signed.json()["replayed"] is False, signed.text
    assert signed.json()["route"] is None


def test_broadcast_without_a_relay_goes_to_the_public_node(chain: Chain, tmp_path: Path) -> None:
    setup(tmp_path, chain, None, public_rpc_url=chain.node.url)
    with signer_process(tmp_path) as signer:
        reply = signer.sign(swap(chain))
    assert reply.status_code == 200 and reply.json()["route"] == "public", reply.text
    assert chain.mined(reply.json()["tx_hash"])


def test_a_broadcast_flag_that_is_not_a_boolean_is_refused_naming_it(
    chain: Chain, tmp_path: Path
) -> None:
    setup(tmp_path, chain, None, public_rpc_url=chain.node.url)
    with signer_process(tmp_path) as signer:
        reply = signer.sign(swap(chain) | {"broadcast": "yes"})
    assert reply.status_code == 422 and reply.json()["detail"][0].startswith("broadcast:")
