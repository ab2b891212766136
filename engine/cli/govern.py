"""`zkrisk chain govern propose|execute|status ACTION …`: change a governed vault through its Safe
and timelock.

ACTION is one of
  set-attester --account A [--attester B]   who signs A's books (default: the recorded attester)
  set-policy --set FIELD=VALUE …             RiskVault.setPolicy with the current policy, changed
  unpause                                    RiskVault.unpause (a guardian can only pause)

`propose` has the Safe's owners sign a Safe transaction that schedules the call on the timelock;
`execute` (once the timelock's delay has passed) has them sign one that executes it; `status`
shows the operation's state. The same ACTION and options name the same operation (its id is the
hash of target and call data). Owners' keys: $ZKRISK_OWNER_KEYS (comma-separated) or
--owner-keys FILE (one hex key per line; for Anvil dev keys). The transaction itself is sent by
the signer (--dev-account / --private-key); it needs no role.
"""

from __future__ import annotations

import os
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import EXIT_FAILED, bad_input, fail

if TYPE_CHECKING:  # web3 and the chain layer load where used: they cost start-up time
    from ..chain.governance import Governance
    from ..chain.vault_types import VaultPolicy
    from ..keeper.vault_access import VaultHandle

OWNER_KEYS_ENV = "ZKRISK_OWNER_KEYS"
ACTIONS = ("set-attester", "set-policy", "unpause")

ActionArg = Annotated[str, typer.Argument(help=f"One of: {', '.join(ACTIONS)}.")]
AccountOpt = Annotated[str | None, typer.Option(help="set-attester: the desk's account.")]
AttesterOpt = Annotated[
    str | None, typer.Option(help="set-attester: the attester (default: the recorded one).")
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="set-policy: FIELD=VALUE (e.g. min_health_bps=11000); repeat."),
]
OwnerKeys = Annotated[
    Path | None,
    typer.Option(help=f"File of owners' keys, one per line (default: ${OWNER_KEYS_ENV}).",
                 dir_okay=False),
]  # fmt: skip


def governance_of(handle: VaultHandle) -> Governance:
    """The deployment's Safe and timelock (ValueError naming the fix when it has none)."""
    from ..chain.governance import Governance, compile_governance_contracts

    record = handle.record
    if record.governance is None or "Safe" not in record.contracts:
        raise ValueError(
            "this deployment has no governance (the deployer is its admin): redeploy with "
            "`zkrisk chain deploy --owners A,B,C --threshold N --delay SECONDS`"
        )
    compiled = compile_governance_contracts()
    chain = handle.client.chain
    for contract in compiled.values():
        chain.errors.register(contract.abi)
    at = chain.w3.eth.contract
    return Governance(
        chain=chain,
        safe=at(address=record.contracts["Safe"], abi=compiled["SafeL2"].abi),  # type: ignore[call-overload]
        timelock=at(address=record.contracts["TimelockController"],  # type: ignore[call-overload]
                    abi=compiled["TimelockController"].abi),
        owners=record.governance.owners,
        threshold=record.governance.threshold,
        min_delay=record.governance.delay,
    )  # fmt: skip


def owner_keys(path: Path | None) -> list[str]:
    if path is not None:
        try:
            lines = path.read_text().splitlines()
        except OSError as exc:
            raise ValueError(f"--owner-keys {path}: {exc.strerror}") from None
        keys = [k.strip() for k in lines if k.strip() and not k.startswith("#")]
    else:
        keys = [k.strip() for k in os.environ.get(OWNER_KEYS_ENV, "").split(",") if k.strip()]
    if not keys:
        raise ValueError(
            f"no owner keys: set ${OWNER_KEYS_ENV} (comma-separated) or pass --owner-keys FILE"
        )
    return keys


def planned_call(
    handle: VaultHandle,
    action: str,
    *,
    account: str | None,
    attester: str | None,
    settings: list[str] | None,
) -> tuple[str, bytes, dict[str, Any]]:
    """(target, call data, what it does) for ACTION; ValueError naming a bad option."""
    from web3 import Web3

    from ..chain.governance import calldata

    vault = handle.client
    if action == "set-attester":
        if account is None or not Web3.is_address(account):
            raise ValueError("set-attester needs --account ADDRESS (the desk)")
        who = attester or handle.record.attester
        if who is None or not Web3.is_address(who):
            raise ValueError("set-attester needs --attester ADDRESS (no attester is recorded)")
        fn = vault.vault.functions.setAttester(
            Web3.to_checksum_address(account), Web3.to_checksum_address(who)
        )
        return vault.address, calldata(fn), {"account": account, "attester": who}
    if action == "set-policy":
        current = vault.policy()
        policy = _changed_policy(current, settings or [])
        changed = {k: v for k, v in policy.as_dict().items() if current.as_dict()[k] != v}
        return vault.address, calldata(vault.set_policy_call(policy)), changed
    if action == "unpause":
        return vault.address, calldata(vault.vault.functions.unpause()), {}
    raise ValueError(f"unknown action {action!r}: use one of {', '.join(ACTIONS)}")


def _changed_policy(current: VaultPolicy, settings: list[str]) -> VaultPolicy:
    from ..chain.vault_types import VaultPolicy

    if not settings:
        raise ValueError("set-policy needs at least one --set FIELD=VALUE")
    names = [f.name for f in fields(VaultPolicy)]
    changes: dict[str, int] = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or key not in names:
            raise ValueError(
                f"--set {item!r}: use FIELD=VALUE with FIELD one of {', '.join(names)}"
            )
        try:
            changes[key] = int(value)
        except ValueError:
            raise ValueError(f"--set {item!r}: {value!r} is not an integer") from None
    return replace(current, **changes)


def run_govern(
    step: str,
    handle: VaultHandle,
    action: str,
    *,
    account: str | None,
    attester: str | None,
    settings: list[str] | None,
    keys_file: Path | None,
) -> dict[str, Any]:
    """propose / execute / status; the printed result."""
    from ..chain.governance import GovernanceError
    from ..chain.safe_tx import SafeTxError

    with bad_input():
        gov = governance_of(handle)
        target, data, what = planned_call(handle, action, account=account, attester=attester,
                                          settings=settings)  # fmt: skip
        keys = owner_keys(keys_file) if step != "status" else []
    op = gov.operation_id(target, data)
    result: dict[str, Any] = {"action": action, "operation": "0x" + op.hex(), **what}
    try:
        if step == "propose":
            gov.propose(target, data, keys)
        elif step == "execute":
            receipt = gov.execute(target, data, keys)
            result["tx"] = "0x" + bytes(receipt["transactionHash"]).hex()
    except (GovernanceError, SafeTxError) as exc:
        fail([str(exc)], EXIT_FAILED)
    result["state"] = gov.status(op)
    ready = gov.ready_at(op)
    if ready > 1:
        result["ready_at"] = ready
    return result
