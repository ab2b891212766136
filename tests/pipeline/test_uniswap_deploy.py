"""Uniswap v2 from the pinned npm build on real Anvil: pools at the demo prices, the router's
hard-coded pair init code hash matching the factory's pairs, and the addresses file."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from eth_utils.crypto import keccak

from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS, AnvilNode
from zkrisk.engine.chain.client import ChainClient
from zkrisk.engine.chain.uniswap_deploy import (
    PAIR_INIT_CODE_HASH,
    UniswapAddressError,
    UniswapDeployment,
    artefact,
    attach_uniswap,
    deploy_uniswap,
    load_addresses,
    pair_for,
    save_addresses,
    verify_addresses,
)


@pytest.fixture(scope="module")
def uni(anvil_node: AnvilNode) -> UniswapDeployment:
    return deploy_uniswap(ChainClient.connect(anvil_node.url, DEV_PRIVATE_KEYS[0]))


def test_the_routers_init_code_hash_is_the_npm_pairs_and_pair_for_equals_get_pair(
    uni: UniswapDeployment,
) -> None:
    assert keccak(hexstr=artefact("UniswapV2Pair").bytecode).hex() == PAIR_INIT_CODE_HASH
    assert PAIR_INIT_CODE_HASH in artefact("UniswapV2Router02").bytecode
    usdc = uni.addresses.tokens["USDC"].address
    for symbol, pair in uni.addresses.pairs.items():
        token = uni.addresses.tokens[symbol].address
        assert pair_for(uni.addresses.factory, token, usdc) == pair
        assert uni.factory.functions.getPair(token, usdc).call() == pair


def test_pools_hold_the_demo_prices_in_each_tokens_decimals(uni: UniswapDeployment) -> None:
    assert {s: t.decimals for s, t in uni.addresses.tokens.items()} == {
        "USDC": 6,
        "WETH": 18,
        "WBTC": 8,
    }
    for symbol, price in (("WETH", Decimal(3000)), ("WBTC", Decimal(60000))):
        asset, quote = uni.reserves(symbol)
        assert quote == Decimal(1_000_000)
        assert abs(quote / asset - price) < Decimal("0.0001")
    # The router prices through the pair it derives with pairFor: a quote proves the hash matches.
    weth, usdc = uni.tokens["WETH"].address, uni.tokens["USDC"].address
    out = uni.router.functions.getAmountsOut(3000 * 10**6, [usdc, weth]).call()[1]
    assert Decimal("0.99") < Decimal(out) / 10**18 < Decimal(1)


def test_the_addresses_file_round_trips_and_verifies(
    anvil_node: AnvilNode, uni: UniswapDeployment, tmp_path: Path
) -> None:
    path = save_addresses(uni.addresses, tmp_path / "uniswap.json")
    loaded = load_addresses(path)
    assert loaded == uni.addresses
    attached = attach_uniswap(ChainClient.connect(anvil_node.url, DEV_PRIVATE_KEYS[0]), loaded)
    assert attached.reserves("WETH") == uni.reserves("WETH")


@pytest.mark.parametrize(
    ("field", "wrong", "said"),
    [
        (
            "router",
            "0x000000000000000000000000000000000000dEaD",
            "router = 0x000000000000000000000000000000000000dEaD has no contract code",
        ),
        ("pairs.WETH", "<WBTC pair>", "pairs.WETH = "),
        ("tokens.WBTC", "<WETH token>", "pairs.WBTC = "),
        ("weth", "<USDC token>", "weth = "),
    ],
)
def test_a_wrong_address_in_the_file_is_named_in_the_error(
    anvil_node: AnvilNode, uni: UniswapDeployment, tmp_path: Path, field: str, wrong: str, said: str
) -> None:
    data = uni.addresses.model_dump(mode="json")
    lookup = {"<WBTC pair>": data["pairs"]["WBTC"], "<WETH token>": data["tokens"]["WETH"]["address"],
              "<USDC token>": data["tokens"]["USDC"]["address"]}  # fmt: skip
    value = lookup.get(wrong, wrong)
    head, _, tail = field.partition(".")
    if head == "tokens":
        data["tokens"][tail]["address"] = value
    elif head == "pairs":
        data["pairs"][tail] = value
    else:
        data[head] = value
    path = tmp_path / "uniswap.json"
    path.write_text(json.dumps(data))
    with pytest.raises(
        UniswapAddressError, match="^" + str(path).replace(".", r"\.") + ": "
    ) as caught:
        verify_addresses(anvil_node.web3(), load_addresses(path), where=str(path))
    assert said in str(caught.value)


def test_a_missing_addresses_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="deploy first"):
        load_addresses(tmp_path / "nope.json")
