"""Uniswap v2 on a dev chain: the pinned npm build of v2-core (factory, pair) and v2-periphery
(Router02, WETH9), pools of the demo assets against the USDC mock at the demo prices, and the
addresses file a venue reads (`--addresses FILE`, fork mode).

The artefacts are the packages' own build/*.json (bytecode + ABI), not a recompile: Router02's
UniswapV2Library hard-codes the init code hash of the pair it expects, and the npm v2-core pair
hashes to exactly that (`PAIR_INIT_CODE_HASH`; tests/pipeline/test_uniswap_deploy.py checks
`pair_for` against `factory.getPair` and against the hash inside the router's bytecode).

Every demo asset, WETH included, is a MockERC20 with the asset's decimals: WETH9 is deployed only
because Router02's constructor wants one (the ETH entry points are not used).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from functools import cache
from pathlib import Path
from typing import Any, Final

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from pydantic import BaseModel, ConfigDict, Field
from web3 import Web3
from web3.contract import Contract

from zkrisk.prover.toolchain import find_node_modules

from ..paths import contracts_src, repo_root
from ..risk.models import Asset
from . import dev_scenario as scenario
from .client import ChainClient
from .solidity import CompiledContract, compile_sources

#: Package build files (relative to node_modules) of the contracts deployed here.
ARTEFACTS: Final = {
    "UniswapV2Factory": "@uniswap/v2-core/build/UniswapV2Factory.json",
    "UniswapV2Pair": "@uniswap/v2-core/build/UniswapV2Pair.json",
    "UniswapV2Router02": "@uniswap/v2-periphery/build/UniswapV2Router02.json",
    "WETH9": "@uniswap/v2-periphery/build/WETH9.json",
}
#: keccak256 of the npm v2-core pair's creation code, the hash Router02 (npm build) embeds.
PAIR_INIT_CODE_HASH: Final = "96e8ac4277198ff8b6f785478aa9a39f403cb768dd02cbee326c3e7da348845f"
#: Pool depth in USD per side at the demo prices: a 1 WETH order moves the pool ~0.3 %.
DEFAULT_DEPTH_USD: Final = Decimal(1_000_000)


class UniswapAddressError(ValueError):
    """An addresses file names an address that is not what it says (no code, other tokens)."""


@cache
def artefact(name: str) -> CompiledContract:
    """One of `ARTEFACTS` from the installed npm package (`make setup` installs them)."""
    path = find_node_modules() / ARTEFACTS[name]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run `npm ci` (make setup) to install it")
    data = json.loads(path.read_text())
    bytecode = str(data["bytecode"])
    return CompiledContract(
        name, data["abi"], bytecode if bytecode.startswith("0x") else "0x" + bytecode
    )


def mock_erc20() -> CompiledContract:
    src = contracts_src()
    units = {"src/mocks/MockERC20.sol": src / "mocks" / "MockERC20.sol"}
    return compile_sources(units, base=src.parent, cache=repo_root() / "build" / "solc")[
        "MockERC20"
    ]


def pair_for(factory: str, token_a: str, token_b: str) -> str:
    """The pair's CREATE2 address, as UniswapV2Library.pairFor computes it."""
    a, b = sorted((bytes.fromhex(token_a[2:]), bytes.fromhex(token_b[2:])))
    salt = keccak(a + b)
    raw = keccak(b"\xff" + bytes.fromhex(factory[2:]) + salt + bytes.fromhex(PAIR_INIT_CODE_HASH))
    return to_checksum_address(raw[12:])


class TokenRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    address: str
    decimals: int = Field(ge=0, le=36)


class UniswapAddresses(BaseModel):
    """Where a Uniswap v2 deployment lives: the file behind `--addresses`."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    chain_id: int = Field(gt=0)
    factory: str
    router: str
    """UniswapV2Router02."""
    weth: str
    """The router's WETH (its ETH entry points are unused)."""
    quote: str = "USDC"
    """The symbol every pool quotes against."""
    tokens: dict[str, TokenRecord]
    """Symbol → ERC-20 (the quote included)."""
    pairs: dict[str, str]
    """Asset symbol → the pair of (asset, quote)."""

    def token(self, symbol: str) -> TokenRecord:
        if symbol not in self.tokens:
            raise KeyError(
                f"no token {symbol!r} in the Uniswap addresses (have {sorted(self.tokens)})"
            )
        return self.tokens[symbol]

    def symbol_of(self, address: str) -> str:
        for symbol, record in self.tokens.items():
            if record.address.lower() == address.lower():
                return symbol
        raise KeyError(f"no token at {address} in the Uniswap addresses")


def save_addresses(addresses: UniswapAddresses, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(addresses.model_dump(mode="json"), indent=2) + "\n")
    return path


def load_addresses(path: Path) -> UniswapAddresses:
    if not path.is_file():
        raise FileNotFoundError(
            f"no Uniswap addresses file at {path}: deploy first "
            "(zkrisk.engine.chain.uniswap_deploy.deploy_uniswap with save_to)"
        )
    return UniswapAddresses.model_validate_json(path.read_text())


def verify_addresses(w3: Web3, addresses: UniswapAddresses, *, where: str = "addresses") -> None:
    """Check the deployment at `addresses` is real on `w3`'s chain; UniswapAddressError names the
    first wrong entry and what was found there."""
    chain_id = int(w3.eth.chain_id)
    if chain_id != addresses.chain_id:
        raise UniswapAddressError(
            f"{where}: chain_id {addresses.chain_id} but the node is chain {chain_id}"
        )
    named = {"factory": addresses.factory, "router": addresses.router, "weth": addresses.weth}
    named |= {f"tokens.{s}": t.address for s, t in addresses.tokens.items()}
    named |= {f"pairs.{s}": p for s, p in addresses.pairs.items()}
    for field, address in named.items():
        if not Web3.is_address(address):
            raise UniswapAddressError(f"{where}: {field} = {address!r} is not an address")
        if len(w3.eth.get_code(to_checksum_address(address))) == 0:
            raise UniswapAddressError(
                f"{where}: {field} = {address} has no contract code on chain {chain_id}: "
                "point it at the deployed contract (or redeploy and rewrite the file)"
            )
    router = w3.eth.contract(address=to_checksum_address(addresses.router),
                             abi=artefact("UniswapV2Router02").abi)  # fmt: skip
    for getter, field in (("factory", "factory"), ("WETH", "weth")):
        found = str(router.functions[getter]().call())
        if found.lower() != getattr(addresses, field).lower():
            raise UniswapAddressError(
                f"{where}: {field} = {getattr(addresses, field)} but the router's {getter}() is {found}"
            )
    factory = w3.eth.contract(address=to_checksum_address(addresses.factory),
                              abi=artefact("UniswapV2Factory").abi)  # fmt: skip
    quote = addresses.token(addresses.quote).address
    for symbol, pair_address in addresses.pairs.items():
        token = addresses.token(symbol).address
        pair = w3.eth.contract(
            address=to_checksum_address(pair_address), abi=artefact("UniswapV2Pair").abi
        )
        try:
            pair_tokens = {
                str(pair.functions.token0().call()).lower(),
                str(pair.functions.token1().call()).lower(),
            }
        except Exception as exc:  # code there, but not a pair
            raise UniswapAddressError(
                f"{where}: pairs.{symbol} = {pair_address} is not a Uniswap v2 pair ({exc})"
            ) from None
        if pair_tokens != {token.lower(), quote.lower()}:
            raise UniswapAddressError(
                f"{where}: pairs.{symbol} = {pair_address} pairs {sorted(pair_tokens)}, not "
                f"tokens.{symbol} and tokens.{addresses.quote} ({token}, {quote})"
            )
        listed = str(factory.functions.getPair(token, quote).call())
        if listed.lower() != pair_address.lower():
            raise UniswapAddressError(
                f"{where}: pairs.{symbol} = {pair_address} but the factory's pair is {listed}"
            )


@dataclass
class UniswapDeployment:
    chain: ChainClient
    addresses: UniswapAddresses
    factory: Contract
    router: Contract
    tokens: dict[str, Contract]
    pairs: dict[str, Contract]

    def mint(self, symbol: str, to: str, amount: Decimal) -> None:
        """Mint `amount` (asset units) of a mock token to `to` (dev chains)."""
        units = to_units(amount, self.addresses.token(symbol).decimals)
        self.chain.transact(self.tokens[symbol].functions.mint(to_checksum_address(to), units))

    def reserves(self, symbol: str) -> tuple[Decimal, Decimal]:
        """(asset, quote) reserves of `symbol`'s pool, in asset units."""
        pair = self.pairs[symbol]
        r0, r1, _ = pair.functions.getReserves().call()
        token0 = str(pair.functions.token0().call())
        asset = self.addresses.token(symbol)
        quote = self.addresses.token(self.addresses.quote)
        raw_asset, raw_quote = (r0, r1) if token0.lower() == asset.address.lower() else (r1, r0)
        return from_units(raw_asset, asset.decimals), from_units(raw_quote, quote.decimals)


def to_units(amount: Decimal, decimals: int) -> int:
    return int((amount * 10**decimals).to_integral_value(ROUND_DOWN))


def from_units(units: int, decimals: int) -> Decimal:
    return Decimal(units).scaleb(-decimals)


def deploy_uniswap(
    chain: ChainClient,
    *,
    assets: Sequence[Asset] = scenario.ASSETS,
    prices: Mapping[str, Decimal] = scenario.CALM,
    quote: str = "USDC",
    depth_usd: Decimal = DEFAULT_DEPTH_USD,
    save_to: Path | None = None,
) -> UniswapDeployment:
    """Deploy mock tokens for `assets`, factory, WETH9, Router02, and one pool per non-quote asset
    against `quote` holding `depth_usd` of each side at `prices` (LP tokens to the deployer).
    With `save_to`, the addresses are written there (JSON)."""
    if quote not in {a.symbol for a in assets}:
        raise ValueError(f"the quote asset {quote!r} must be one of the assets")
    erc20 = mock_erc20()
    for contract in (erc20, *(artefact(n) for n in ARTEFACTS)):
        chain.errors.register(contract.abi)
    tokens = {
        a.symbol: chain.deploy(erc20, f"Mock {a.symbol}", a.symbol, a.decimals) for a in assets
    }
    factory = chain.deploy(artefact("UniswapV2Factory"), chain.account.address)
    weth = chain.deploy(artefact("WETH9"))
    router = chain.deploy(artefact("UniswapV2Router02"), factory.address, weth.address)
    decimals = {a.symbol: a.decimals for a in assets}
    pairs: dict[str, Contract] = {}
    me = chain.account.address
    for symbol in (a.symbol for a in assets if a.symbol != quote):
        chain.transact(factory.functions.createPair(tokens[symbol].address, tokens[quote].address))
        address = str(
            factory.functions.getPair(tokens[symbol].address, tokens[quote].address).call()
        )
        pair = chain.w3.eth.contract(
            address=to_checksum_address(address), abi=artefact("UniswapV2Pair").abi
        )
        asset_amount = to_units(depth_usd / prices[symbol], decimals[symbol])
        quote_amount = to_units(depth_usd / prices[quote], decimals[quote])
        # Mint straight into the pair and sync its reserves (UniswapV2Pair.mint): no approvals.
        chain.transact(tokens[symbol].functions.mint(pair.address, asset_amount))
        chain.transact(tokens[quote].functions.mint(pair.address, quote_amount))
        chain.transact(pair.functions.mint(me))
        pairs[symbol] = pair
    addresses = UniswapAddresses(
        chain_id=chain.chain_id,
        factory=str(factory.address),
        router=str(router.address),
        weth=str(weth.address),
        quote=quote,
        tokens={
            s: TokenRecord(address=str(t.address), decimals=decimals[s]) for s, t in tokens.items()
        },
        pairs={s: str(p.address) for s, p in pairs.items()},
    )
    if save_to is not None:
        save_addresses(addresses, save_to)
    return UniswapDeployment(chain, addresses, factory, router, tokens, pairs)


def attach_uniswap(chain: ChainClient, addresses: UniswapAddresses) -> UniswapDeployment:
    """Handles on a deployment read from an addresses file (verified first)."""
    verify_addresses(chain.w3, addresses)
    erc20 = mock_erc20()

    def at(address: str, abi: list[dict[str, Any]]) -> Contract:
        return chain.w3.eth.contract(address=to_checksum_address(address), abi=abi)

    return UniswapDeployment(
        chain,
        addresses,
        at(addresses.factory, artefact("UniswapV2Factory").abi),
        at(addresses.router, artefact("UniswapV2Router02").abi),
        {s: at(t.address, erc20.abi) for s, t in addresses.tokens.items()},
        {s: at(p, artefact("UniswapV2Pair").abi) for s, p in addresses.pairs.items()},
    )
