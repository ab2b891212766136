"""Governance on a dev chain: a real Safe 1.4.1 multisig (SafeL2 singleton behind a SafeProxy from
SafeProxyFactory, CompatibilityFallbackHandler) proposing to an OpenZeppelin TimelockController
that holds every admin role of the PriceBook and the RiskVault.

    owners ──(threshold signatures)──▶ Safe ──schedule / execute──▶ Timelock ──(after minDelay)──▶
    vault.setPolicy / setAttester / unpause, priceBook.setAssetConfig …

The Safe is the timelock's only proposer, canceller and executor; the deployer renounces the
timelock's admin role, so after `deploy_governance` no single key can change anything. The
contracts come from node_modules (@safe-global/safe-contracts 1.4.1, @openzeppelin/contracts),
compiled once with the project's solc and cached under build/solc/ by source hash.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3.contract import Contract
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD
from web3.types import TxReceipt

from zkrisk.prover.toolchain import find_node_modules

from ..paths import repo_root
from .client import ChainClient, revert_data
from .safe_tx import ZERO_ADDRESS, OwnerSignature, SafeTx, pack_signatures, sign_safe_tx
from .solidity import CompiledContract, compile_sources

SAFE = "@safe-global/safe-contracts/contracts"
GOVERNANCE_UNITS = (
    f"{SAFE}/SafeL2.sol",
    f"{SAFE}/proxies/SafeProxyFactory.sol",
    f"{SAFE}/handler/CompatibilityFallbackHandler.sol",
    "@openzeppelin/contracts/governance/TimelockController.sol",
)
ZERO_SALT = b"\x00" * 32


class GovernanceError(ValueError):
    """A governance action that cannot be done as asked; the message names the fix."""


def compile_governance_contracts() -> dict[str, CompiledContract]:
    """SafeL2, SafeProxyFactory, CompatibilityFallbackHandler and TimelockController (cached)."""
    node_modules = find_node_modules()
    units = {unit: node_modules / unit for unit in GOVERNANCE_UNITS}
    return compile_sources(
        units, base=repo_root() / "contracts", cache=repo_root() / "build" / "solc"
    )


@dataclass(frozen=True)
class Governance:
    """A deployed Safe and the timelock it proposes to."""

    chain: ChainClient
    safe: Contract
    timelock: Contract
    owners: tuple[str, ...]
    threshold: int
    min_delay: int

    def owner_list(self) -> tuple[str, ...]:
        return tuple(str(a) for a in self.safe.functions.getOwners().call())

    # ------------------------------------------------------------------ Safe

    def safe_tx(self, to: str, data: bytes) -> SafeTx:
        nonce = int(self.safe.functions.nonce().call())
        return SafeTx(safe=str(self.safe.address), chain_id=self.chain.chain_id, to=to, data=data,
                      nonce=nonce)  # fmt: skip

    def exec_from_safe(
        self, to: str, data: bytes, owner_keys: Sequence[str], sender: ChainClient | None = None
    ) -> TxReceipt:
        """Sign `to.call(data)` with `owner_keys` and have `sender` (default: the first owner's
        client, else the deployer) execute it through the Safe."""
        tx = self.safe_tx(to, data)
        signatures: list[OwnerSignature] = [sign_safe_tx(tx, key) for key in owner_keys]
        packed = pack_signatures(tx, signatures, owners=self.owner_list(), threshold=self.threshold)
        self._simulate(to, data)
        who = sender or self.chain
        return who.transact(self.safe.functions.execTransaction(*tx.exec_args(packed)))

    def _simulate(self, to: str, data: bytes) -> None:
        """Run the Safe's inner call as a call from the Safe first: with no refund gas the Safe
        would only say GS013; this names the callee's own revert reason."""
        call = {"from": self.safe.address, "to": to_checksum_address(to), "data": data}
        try:
            self.chain.w3.eth.call(call)  # type: ignore[arg-type]
        except ContractLogicError as exc:
            decoded = self.chain.errors.decode(revert_data(exc))
            reason = (
                ""
                if decoded is None
                else f": {decoded}" + (f" — {decoded.hint}" if decoded.hint else "")
            )
            raise GovernanceError(f"the Safe's call to {to} would be reverted{reason}") from None

    # ------------------------------------------------------------------ timelock

    def operation_id(self, target: str, data: bytes, salt: bytes = ZERO_SALT) -> bytes:
        return bytes(
            self.timelock.functions.hashOperation(
                to_checksum_address(target), 0, data, ZERO_SALT_PREDECESSOR, salt
            ).call()
        )

    def propose(
        self, target: str, data: bytes, owner_keys: Sequence[str], *, salt: bytes = ZERO_SALT
    ) -> bytes:
        """Schedule `target.call(data)` on the timelock, from the Safe; the operation id."""
        schedule = self.timelock.functions.schedule(
            to_checksum_address(target), 0, data, ZERO_SALT_PREDECESSOR, salt, self.min_delay
        )
        self.exec_from_safe(str(self.timelock.address), _calldata(schedule), owner_keys)
        return self.operation_id(target, data, salt)

    def execute(
        self, target: str, data: bytes, owner_keys: Sequence[str], *, salt: bytes = ZERO_SALT
    ) -> TxReceipt:
        """Execute a ready operation on the timelock, from the Safe."""
        op = self.operation_id(target, data, salt)
        state = self.status(op)
        if state != "Ready":
            raise GovernanceError(
                f"operation 0x{op.hex()} is {state}, not Ready: "
                + ("wait until its delay has passed" if state == "Waiting" else "propose it first")
            )
        execute = self.timelock.functions.execute(
            to_checksum_address(target), 0, data, ZERO_SALT_PREDECESSOR, salt
        )
        return self.exec_from_safe(str(self.timelock.address), _calldata(execute), owner_keys)

    def status(self, operation: bytes) -> str:
        """Unset, Waiting, Ready or Done (TimelockController.getOperationState)."""
        state = int(self.timelock.functions.getOperationState(operation).call())
        return ("Unset", "Waiting", "Ready", "Done")[state]

    def ready_at(self, operation: bytes) -> int:
        return int(self.timelock.functions.getTimestamp(operation).call())


ZERO_SALT_PREDECESSOR = b"\x00" * 32


def _calldata(fn: Any) -> bytes:
    return bytes.fromhex(str(fn._encode_transaction_data())[2:])


def calldata(fn: Any) -> bytes:
    """ABI-encoded call data of a web3 ContractFunction (what the timelock will call)."""
    return _calldata(fn)


def deploy_governance(
    chain: ChainClient,
    *,
    owners: Sequence[str],
    threshold: int,
    min_delay: int,
    compiled: dict[str, CompiledContract] | None = None,
) -> Governance:
    """Deploy the Safe stack and a timelock whose proposer, canceller and executor is the Safe;
    the deployer is never the timelock's admin (admin = address(0): the timelock administers
    itself)."""
    owners = tuple(to_checksum_address(o) for o in owners)
    if len(set(owners)) != len(owners) or not owners:
        raise GovernanceError("--owners: give distinct owner addresses, comma-separated")
    if not 1 <= threshold <= len(owners):
        raise GovernanceError(f"--threshold {threshold}: must be in [1, {len(owners)}] owners")
    if min_delay < 0:
        raise GovernanceError("--delay: seconds, ≥ 0")
    made = compiled or compile_governance_contracts()
    for contract in made.values():
        chain.errors.register(contract.abi)
    singleton = chain.deploy(made["SafeL2"])
    factory = chain.deploy(made["SafeProxyFactory"])
    handler = chain.deploy(made["CompatibilityFallbackHandler"])
    setup = singleton.functions.setup(
        list(owners), threshold, ZERO_ADDRESS, b"", handler.address, ZERO_ADDRESS, 0, ZERO_ADDRESS
    )
    salt_nonce = int.from_bytes(keccak(text=f"zkrisk-{chain.w3.eth.block_number}"), "big")
    receipt = chain.transact(
        factory.functions.createProxyWithNonce(singleton.address, _calldata(setup), salt_nonce)
    )
    (created,) = factory.events.ProxyCreation().process_receipt(receipt, errors=DISCARD)
    safe = chain.w3.eth.contract(address=created["args"]["proxy"], abi=made["SafeL2"].abi)
    timelock = chain.deploy(
        made["TimelockController"], min_delay, [safe.address], [safe.address], ZERO_ADDRESS
    )
    return Governance(chain, safe, timelock, owners, threshold, min_delay)


def role_holders_check(contract: Contract, role: bytes, account: str) -> bool:
    return bool(contract.functions.hasRole(role, to_checksum_address(account)).call())
