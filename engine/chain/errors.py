"""Readable reverts: custom errors decoded with their arguments, plus how to fix the common ones."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import decode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

ERROR_STRING = "0x08c379a0"  # Error(string)
PANIC = "0x4e487b71"  # Panic(uint256)

#: What to do about the reverts a vault user meets; keyed by error name.
HINTS: Mapping[str, str] = {
    "RiskVault__StalePrice": "take a new snapshot (`zkrisk chain snapshot`) and prove against it",
    "RiskVault__UnknownSnapshot": "use an existing snapshot id (PriceBook.latestSnapshotId)",
    "RiskVault__SnapshotOutsideWindow": (
        "proofs use a snapshot of the last snapshotWindow seconds: take a new snapshot "
        "(`zkrisk chain snapshot`) and prove against it"
    ),
    "RiskVault__SnapshotBeforeLastProof": (
        "prove against the account's last proof snapshot or a later one"
    ),
    "RiskVault__InvalidProof": (
        "the deployed verifier rejects the proof. zkrisk sends a proof only after checking its "
        "public signals against RiskVault.publicSignals (book, nonce, escrow, snapshot, sender), "
        "so the usual cause is a proving key other than the one the verifier was generated from: "
        "prove with the zkey the deployment record pins (`zkrisk chain status` shows its sha256) "
        "or redeploy; else the proof bytes were altered, or it was made for another sender"
    ),
    "RiskVault__NoCommitment": (
        "the account has no attested book yet: have its attester sign one (`zkrisk attest`) and "
        "commit it (`zkrisk chain update-book`)"
    ),
    "RiskVault__InvalidCommitment": "the commitment must be in (0, r): attest a real book",
    "RiskVault__NoAttester": (
        "governance has not registered an attester for the account: propose setAttester "
        "(`zkrisk chain govern propose set-attester`)"
    ),
    "RiskVault__InvalidAttestationSignature": (
        "the signature is not the registered attester's over this attestation: sign it with the "
        "attester's key for this chain and vault (`zkrisk attest`); no field may change after"
    ),
    "RiskVault__StaleAttestationSequence": (
        "the vault already has this or a newer book: sign with a larger --sequence"
    ),
    "RiskVault__AttestationFromFuture": "sign with issuedAt at or before the chain's time",
    "RiskVault__AttestationTooOld": (
        "the attestation is older than the policy's maxAttestationAge: sign a fresh one"
    ),
    "RiskVault__NotAccount": "only the account itself may updateBook; others use submit-book",
    "RiskVault__GracePeriod": (
        "the price book is in its grace period after an oracle or sequencer outage: no "
        "liquidation before graceEndsAt, desks may re-prove meanwhile"
    ),
    "RiskVault__WithdrawOnOldBook": (
        "the book is older than the policy's maxAttestationAge: have the attester sign it again "
        "(`zkrisk attest`, then `zkrisk chain submit-book`) and withdraw with a new proof"
    ),
    "RiskVault__BookPredatesLiquidation": (
        "the account was liquidated after its book was signed: wait for the attester's newer "
        "book (it carries the repaid debt), or use liquidateStale if the account is stale"
    ),
    "RiskVault__IssuedAtTooLarge": "issuedAt must fit 32 bits (before 2106)",
    "RiskVault__UnsupportedHfThreshold": "keepers prove HF < 1.0 (10000) or HF < 0.95 (9500)",
    "RiskVault__MarginBelowEscrow": (
        "the escrow grew above the proven margin (a deposit): prove again at the new escrow"
    ),
    "RiskVault__ExitNotYetOpen": "the vault is paused; withdrawals reopen at the time shown",
    "RiskVault__ProofNotStale": "the account proved recently; liquidate with a proof of HF < 1",
    "RiskVault__LiquidationCooldown": "wait for the cooldown to pass",
    "RiskVault__InsufficientEscrow": "withdraw at most the escrowed amount",
    "RiskVault__InvalidPolicy": "the policy value named is out of its bounds (RiskVault.Policy)",
    "RiskVault__NothingToSeize": "the account has no escrow left to liquidate",
    "RiskVault__NothingOwed": (
        "the sender is owed no liquidation repayment: claim from the beneficiary's address"
    ),
    "EnforcedPause": "the vault is paused by its guardian; wait for governance to unpause",
    "AccessControlUnauthorizedAccount": (
        "send from an account holding the named role: admin actions go through the Safe and the "
        "timelock (`zkrisk chain govern propose`)"
    ),
    "PriceBook__SnapshotTooSoon": "snapshots are rate-limited: retry at nextAllowedAt",
    "PriceBook__SequencerDown": "the L2 sequencer is down: no snapshot until it is back",
    "PriceBook__NoValidPrice": (
        "neither the primary nor the secondary feed of the slot gives a fresh, in-bounds price"
    ),
    "PriceBook__InsufficientGas": "raise the transaction's gas limit (every feed gets a fixed gas)",
    "PriceBook__InvalidParameter": "the listing or liveness value named is out of its bounds",
    "Groth16Calldata__PublicInputNotInField": "reduce public inputs mod r (the BN254 field order)",
    "ERC20InsufficientAllowance": "approve the vault for the amount first",
    "ERC20InsufficientBalance": "the sender holds fewer tokens than the amount",
    "TimelockUnexpectedOperationState": (
        "the timelock operation is not in the expected state: propose it first, or wait for "
        "its delay (`zkrisk chain govern status`)"
    ),
    "TimelockInsufficientDelay": "schedule with at least the timelock's minimum delay",
}


@dataclass(frozen=True)
class DecodedError:
    """A revert reason: custom error name and arguments, Error(string) or Panic(code)."""

    name: str
    args: tuple[tuple[str, Any], ...] = ()

    @property
    def hint(self) -> str:
        return HINTS.get(self.name, "")

    def __str__(self) -> str:
        inner = ", ".join(f"{k}={_show(v)}" for k, v in self.args)
        return f"{self.name}({inner})"


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


def _type_string(param: Mapping[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_type_string(c) for c in param.get("components", []))
        return f"({inner}){kind[len('tuple') :]}"
    return kind


@dataclass(frozen=True)
class _ErrorSpec:
    name: str
    types: tuple[str, ...]
    names: tuple[str, ...]


class ErrorRegistry:
    """Custom errors of every registered ABI, by 4-byte selector."""

    def __init__(self, abis: Iterable[Sequence[Mapping[str, Any]]] = ()) -> None:
        self._specs: dict[str, _ErrorSpec] = {}
        for abi in abis:
            self.register(abi)

    def register(self, abi: Sequence[Mapping[str, Any]]) -> None:
        for item in abi:
            if item.get("type") != "error":
                continue
            types = tuple(_type_string(i) for i in item["inputs"])
            selector = "0x" + keccak(text=f"{item['name']}({','.join(types)})")[:4].hex()
            names = tuple(str(i.get("name") or f"arg{n}") for n, i in enumerate(item["inputs"]))
            self._specs[selector] = _ErrorSpec(str(item["name"]), types, names)

    def decode(self, data: str | bytes | None) -> DecodedError | None:
        """Decode revert data; None when there is none."""
        if not data:
            return None
        raw = (
            bytes.fromhex(data[2:] if data.startswith("0x") else data)
            if isinstance(data, str)
            else data
        )
        if len(raw) < 4:
            return DecodedError("unknown revert", (("data", raw),))
        selector, body = "0x" + raw[:4].hex(), raw[4:]
        try:
            if selector == ERROR_STRING:
                return DecodedError("Error", (("message", decode(["string"], body)[0]),))
            if selector == PANIC:
                return DecodedError("Panic", (("code", hex(decode(["uint256"], body)[0])),))
            spec = self._specs.get(selector)
            if spec is None:
                return DecodedError(f"unknown custom error {selector}", (("data", body),))
            values = decode(list(spec.types), body)
        except Exception:  # malformed revert data: show it raw rather than hide the revert
            return DecodedError(f"undecodable revert {selector}", (("data", body),))
        shown = (
            to_checksum_address(v) if t == "address" else v
            for t, v in zip(spec.types, values, strict=True)
        )
        return DecodedError(spec.name, tuple(zip(spec.names, shown, strict=True)))
