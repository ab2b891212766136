"""Is a transaction that is not a trade covered by the policy? `compile_calls` turns the
`[[calls]]` rules into selectors and pinned arguments once, at start; `check_call` is pure:
(policy, rules, wallet, transaction) → the first reason to refuse, or None.

Covered means: the signer's chain; a wallet the signer holds; either the built-in cancel (a
0-value self-transfer with empty data and gas 21000, the one transaction that replaces a stuck
one at its nonce and moves nothing) or a rule of this wallet for this contract whose function
the calldata calls, decoding exactly (re-encoded, the same bytes: nothing appended), with every
pinned argument as pinned and the value within the rule; gas and fees within policy.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from eth_abi.abi import decode, encode
from eth_utils.abi import collapse_if_tuple
from eth_utils.crypto import keccak
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..chain.deployments import DeploymentRecord
from ..chain.uniswap_deploy import UniswapAddresses, artefact
from .call_rules import WALLET, CallRule
from .checks import Refusal, UnsignedTransaction
from .policy import SignerPolicy

CANCEL_GAS: Final = 21_000
RECIPIENT_INPUTS: Final = ("to", "recipient", "receiver")
"""Inputs that name who is paid: pinned to the wallet unless a rule's `args` says otherwise."""
_ADDRESS_CHARS: Final = 42


@dataclass(frozen=True, slots=True)
class CallFunction:
    name: str
    types: tuple[str, ...]
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """A `[[calls]]` rule with its target resolved and its functions' selectors computed."""

    index: int
    wallets: frozenset[str]
    contract: str
    """Lower-case address."""
    label: str
    """How signer.toml names the contract (a name, or the address)."""
    functions: dict[bytes, CallFunction]
    pins: dict[str, str]
    """Argument name → lower-case address, or WALLET."""
    max_value_wei: int


class CallRequest(BaseModel):
    """POST /v1/sign-call: a transaction for `wallet` that no approval covers."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    wallet: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    transaction: UnsignedTransaction


class CallPolicyError(ValueError):
    """A `[[calls]]` rule that cannot be compiled; the message names the rule and the fix."""


def load_record(path: Path) -> DeploymentRecord:
    """A deployment record (build/deployments/<id>.json) or a stack addresses file's vault."""
    try:
        data = json.loads(path.read_text())
        data = data["vault"] if isinstance(data, dict) and "vault" in data else data
        return DeploymentRecord.model_validate(data)
    except (OSError, ValueError, KeyError, ValidationError) as exc:
        raise CallPolicyError(
            f"deployment {path}: not a readable deployment record ({exc})"
        ) from None


def _names(record: DeploymentRecord | None, venue: UniswapAddresses | None) -> dict[str, str]:
    """Name → lower-case address: the vault record's contracts and asset tokens, the venue's
    router and tokens; a name both give with different addresses is an error."""
    found: list[tuple[str, str]] = []
    if record is not None:
        found += [(a.symbol, a.token) for a in record.assets] + list(record.contracts.items())
    if venue is not None:
        found += [("router", venue.router)] + [(k, t.address) for k, t in venue.tokens.items()]
    names: dict[str, str] = {}
    for name, address in found:
        if names.setdefault(name, address.lower()) != address.lower():
            raise CallPolicyError(f"{name!r} names both {names[name]} and {address} (the vault's "
                                  "deployment and the venue's addresses): give the address")  # fmt: skip
    return names


def _token_names(record: DeploymentRecord | None, venue: UniswapAddresses | None) -> set[str]:
    return ({a.symbol for a in record.assets} if record else set()) | set(
        venue.tokens if venue else {}
    )


def _address(value: str, names: dict[str, str], where: str) -> str:
    if value.startswith("0x") and len(value) == _ADDRESS_CHARS:
        try:
            bytes.fromhex(value[2:])
        except ValueError:
            pass
        else:
            return value.lower()
    if value in names:
        return names[value]
    known = ", ".join(sorted(names)) or "none: set `deployment` to the vault's record"
    raise CallPolicyError(f"{where}: {value!r} is neither a 0x address nor a name in the "
                          f"deployment (names: {known})")  # fmt: skip


def shipped_abi(name: str, tokens: set[str]) -> list[dict[str, Any]] | None:
    """The ABI of a contract the project ships, by its name; None if it ships none. The vault's
    come from contracts/src (compiled once, cached in build/solc), an ERC-20's (a name in
    `tokens`) from OpenZeppelin's npm artefact, the router's from Uniswap's."""
    if name == "router":
        return artefact("UniswapV2Router02").abi
    if name in tokens:
        from zkrisk.prover.toolchain import find_node_modules

        path = find_node_modules() / "@openzeppelin/contracts/build/contracts/ERC20.json"
        abi: list[dict[str, Any]] = json.loads(path.read_text())["abi"]
        return abi
    if name in ("RiskVault", "PriceBook"):
        from ..chain.solidity import compile_sources
        from ..paths import contracts_src, repo_root

        src = contracts_src()
        unit = f"src/{name}.sol"
        compiled = compile_sources({unit: src / f"{name}.sol"}, base=src.parent,
                                   cache=repo_root() / "build" / "solc")  # fmt: skip
        return compiled[name].abi
    return None


def _read_abi(path: Path, where: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise CallPolicyError(f"{where}: cannot read the ABI file {path} ({exc})") from None
    abi = data.get("abi") if isinstance(data, dict) else data
    if not isinstance(abi, list):
        raise CallPolicyError(f"{where}: {path} holds no ABI (a list, or an object with 'abi')")
    return abi


def _functions(rule: CallRule, abi: list[dict[str, Any]], where: str) -> dict[bytes, CallFunction]:
    out: dict[bytes, CallFunction] = {}
    for name in rule.functions:
        entries = [e for e in abi if e.get("type") == "function" and e.get("name") == name]
        if not entries:
            raise CallPolicyError(f"{where}.functions: the contract's ABI has no function {name!r}")
        for entry in entries:
            if entry.get("stateMutability") in ("view", "pure"):
                raise CallPolicyError(f"{where}.functions: {name} is a view: nothing to sign")
            types = tuple(collapse_if_tuple(i) for i in entry["inputs"])
            selector = keccak(text=f"{name}({','.join(types)})")[:4]
            out[selector] = CallFunction(name, types, tuple(i["name"] for i in entry["inputs"]))
    return out


def _pins(
    rule: CallRule, functions: dict[bytes, CallFunction], names: dict[str, str], where: str
) -> dict[str, str]:
    address_inputs = {n for f in functions.values()
                      for n, t in zip(f.names, f.types, strict=True) if t == "address"}  # fmt: skip
    pins: dict[str, str] = {n: WALLET for n in RECIPIENT_INPUTS if n in address_inputs}
    for arg, value in rule.args.items():
        if arg not in address_inputs:
            raise CallPolicyError(f"{where}.args.{arg}: no allowed function has an address "
                                  f"input {arg!r} (address inputs: {sorted(address_inputs)})")  # fmt: skip
        pins[arg] = WALLET if value == WALLET else _address(value, names, f"{where}.args.{arg}")
    if any(f.name == "approve" for f in functions.values()) and "spender" not in rule.args:
        raise CallPolicyError(f"{where}: an approve rule must pin its spender "
                              '(args = { spender = "RiskVault" }): else anyone may be approved')  # fmt: skip
    return pins


def compile_calls(
    policy: SignerPolicy, venue: UniswapAddresses | None = None
) -> tuple[CompiledRule, ...]:
    """Every `[[calls]]` rule resolved; CallPolicyError naming the first that cannot be."""
    record = None if policy.deployment is None else load_record(policy.deployment)
    if record is not None and record.chain_id != policy.approval_domain.chain_id:
        raise CallPolicyError(f"deployment {policy.deployment} is for chain {record.chain_id}, "
                              f"the signer's for {policy.approval_domain.chain_id}")  # fmt: skip
    names, tokens = _names(record, venue), _token_names(record, venue)
    rules = []
    for i, rule in enumerate(policy.calls):
        where = f"calls[{i}]"
        contract = _address(rule.contract, names, f"{where}.contract")
        abi = (_read_abi(rule.abi, f"{where}.abi") if rule.abi is not None
               else shipped_abi(rule.contract, tokens))  # fmt: skip
        if abi is None:
            raise CallPolicyError(f"{where}.abi: the project ships no ABI for {rule.contract!r}:"
                                  " name the contract's ABI file")  # fmt: skip
        functions = _functions(rule, abi, where)
        rules.append(CompiledRule(i, frozenset(rule.wallets), contract, rule.contract, functions,
                                  _pins(rule, functions, names, where), rule.max_value_wei))  # fmt: skip
    return tuple(rules)


def call_wallets(policy: SignerPolicy) -> set[str]:
    """Every wallet the policy lets sign something: the traders and the calls' wallets."""
    return set(policy.wallets) | {w for rule in policy.calls for w in rule.wallets}


def check_call(
    policy: SignerPolicy, rules: Sequence[CompiledRule], wallet: str, tx: UnsignedTransaction
) -> Refusal | None:
    """The first reason `wallet` may not have `tx` signed without an approval, else None."""
    me = wallet.lower()
    if me not in call_wallets(policy):
        return Refusal("WALLET_NOT_ALLOWED", f"wallet {wallet} is on no allowlist of the signer "
                       "(wallets, or a [[calls]] rule's wallets, in signer.toml)")  # fmt: skip
    if tx.chain_id != policy.approval_domain.chain_id:
        return Refusal("WRONG_CHAIN", f"the transaction is for chain {tx.chain_id}, the signer "
                       f"signs for {policy.approval_domain.chain_id}")  # fmt: skip
    refused = _cancel(tx) if tx.to.lower() == me else _covered(rules, me, tx)
    return refused if refused is not None else _fees(policy, tx)


def _cancel(tx: UnsignedTransaction) -> Refusal | None:
    if tx.value != 0 or tx.data != "0x" or tx.gas != CANCEL_GAS:
        return Refusal("BAD_CANCEL", "a transaction to the wallet itself is signed only as a "
                       f"cancel: value 0, data 0x, gas {CANCEL_GAS} (got value {tx.value}, "
                       f"{(len(tx.data) - 2) // 2} bytes of data, gas {tx.gas})")  # fmt: skip
    return None


def _covered(rules: Sequence[CompiledRule], wallet: str, tx: UnsignedTransaction) -> Refusal | None:
    mine = [r for r in rules if wallet in r.wallets]
    if not mine:
        return Refusal("CALL_NOT_ALLOWED", f"no [[calls]] rule lets wallet {wallet} sign a "
                       "transaction without an approval (only the cancel self-transfer)")  # fmt: skip
    here = [r for r in mine if r.contract == tx.to.lower()]
    if not here:
        return Refusal("WRONG_CONTRACT", f"the wallet's [[calls]] rules cover "
                       f"{sorted({r.label for r in mine})}, not {tx.to}")  # fmt: skip
    refusals = [_check_rule(r, wallet, tx) for r in here]
    return None if None in refusals else refusals[0]


def _check_rule(rule: CompiledRule, wallet: str, tx: UnsignedTransaction) -> Refusal | None:
    data = bytes.fromhex(tx.data[2:])
    fn = rule.functions.get(data[:4]) if len(data) >= 4 else None
    if fn is None:
        allowed = sorted({f.name for f in rule.functions.values()})
        return Refusal("WRONG_FUNCTION", f"the calldata calls none of {allowed} on "
                       f"{rule.label} (calls[{rule.index}])")  # fmt: skip
    try:
        values = decode(fn.types, data[4:])
        canonical = encode(fn.types, values) == data[4:]
    except Exception:  # eth_abi raises several types for garbled input
        canonical = False
    if not canonical:
        return Refusal("BAD_CALLDATA", f"the calldata is not one canonical {fn.name} call "
                       "(it does not decode, or carries bytes past its arguments)")  # fmt: skip
    for name, value in zip(fn.names, values, strict=True):
        pinned = rule.pins.get(name)
        want = wallet if pinned == WALLET else pinned
        if want is not None and str(value).lower() != want:
            return Refusal("WRONG_ARGUMENT", f"{fn.name}'s {name} is {value}; calls[{rule.index}]"
                           f" pins it to {want} ({pinned if pinned == WALLET else 'args'})")  # fmt: skip
    if tx.value > rule.max_value_wei:
        return Refusal("WRONG_VALUE", f"the transaction sends {tx.value} wei; calls[{rule.index}]"
                       f" allows at most {rule.max_value_wei}")  # fmt: skip
    return None


def _fees(policy: SignerPolicy, tx: UnsignedTransaction) -> Refusal | None:
    if tx.gas > policy.max_gas:
        return Refusal("GAS_LIMIT", f"gas {tx.gas} is above the policy's max_gas {policy.max_gas}")
    if tx.max_fee_per_gas > policy.max_fee_per_gas_wei:
        return Refusal("GAS_PRICE", f"maxFeePerGas {tx.max_fee_per_gas} is above the policy's "
                       f"max_fee_per_gas_wei {policy.max_fee_per_gas_wei}")  # fmt: skip
    if tx.max_priority_fee_per_gas > tx.max_fee_per_gas:
        return Refusal("GAS_PRICE", "maxPriorityFeePerGas is above maxFeePerGas")
    return None
