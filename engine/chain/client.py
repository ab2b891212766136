"""Deploy contracts and send signed transactions with web3.py; decode custom errors.

Who signs is pluggable (`TxSigner`): an eth-account key held here (`LocalAccount` is one), or
the signer process (`remote_signer.RemoteTxSigner`), which holds the key itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError
from web3.types import RPCEndpoint, TxReceipt

from .errors import DecodedError, ErrorRegistry
from .solidity import CompiledContract

GAS_MARGIN_PERCENT = 20  # headroom over eth_estimateGas for `transact`


class SignedTx(Protocol):
    """What a signature gives: the raw transaction to broadcast and its hash."""

    @property
    def raw_transaction(self) -> bytes: ...

    @property
    def hash(self) -> bytes: ...


class TxSigner(Protocol):
    """Signs transactions for one address (eth-account's LocalAccount is one)."""

    @property
    def address(self) -> ChecksumAddress: ...

    def sign_transaction(self, transaction_dict: dict[str, Any], /) -> SignedTx: ...


class LocalKeyNeeded(RuntimeError):
    """The caller needs the private key itself (dev-chain set-up), but a remote signer signs."""


class TransactionReverted(RuntimeError):
    """A call or transaction reverted; `error` is the decoded custom error name when known.

    `decoded` carries the arguments and `hint` says how to fix the common cases.
    """

    def __init__(self, error: str, detail: str = "", decoded: DecodedError | None = None):
        self.error = error
        self.decoded = decoded
        self.hint = decoded.hint if decoded else ""
        shown = str(decoded) if decoded and decoded.args else error
        extra = f" {detail}" if detail else ""
        fix = f" — {self.hint}" if self.hint else ""
        super().__init__(f"reverted: {shown}{extra}{fix}")


def error_selectors(abi: Sequence[Any]) -> dict[str, str]:
    """0x-selector → `Name(types)` for every custom error in an ABI."""
    out: dict[str, str] = {}
    for item in abi:
        if item.get("type") == "error":
            signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
            out["0x" + keccak(text=signature)[:4].hex()] = item["name"]
    return out


def revert_data(exc: ContractLogicError) -> str | None:
    """The revert data (0x-hex) of a failed call, wherever the provider put it."""
    data = exc.data
    if isinstance(data, str) and data.startswith("0x"):
        return data
    if isinstance(data, dict):  # some providers nest it: {"data": "0x…"}
        inner = data.get("data")
        return inner if isinstance(inner, str) else None
    return None


@dataclass
class ChainClient:
    w3: Web3
    signer: TxSigner
    errors: ErrorRegistry = field(default_factory=ErrorRegistry)
    """Custom errors of every contract this client deployed or was told about (reverts bubble up
    from callees, so the called contract's own ABI is not enough)."""

    @classmethod
    def connect(cls, url: str, private_key: str) -> ChainClient:
        return cls.connect_signer(url, Account.from_key(private_key))

    @classmethod
    def connect_signer(cls, url: str, signer: TxSigner) -> ChainClient:
        """The node at `url`, signing with `signer` (a local key or the signer process)."""
        # web3's validation middleware asks eth_chainId before every call and transaction: a
        # node's chain id does not change, so it is cached per provider (half the round trips).
        provider = Web3.HTTPProvider(url, request_kwargs={"timeout": 30},
                                     cache_allowed_requests=True,
                                     cacheable_requests={RPCEndpoint("eth_chainId")})  # fmt: skip
        w3 = Web3(provider)
        if not w3.is_connected():
            raise ConnectionError(f"no Ethereum JSON-RPC node answers at {url}")
        return cls(w3, signer)

    def with_key(self, private_key: str) -> ChainClient:
        """The same node and error registry, signing as another account."""
        return ChainClient(self.w3, Account.from_key(private_key), self.errors)

    def with_signer(self, signer: TxSigner) -> ChainClient:
        """The same node and error registry, signing with `signer`."""
        return ChainClient(self.w3, signer, self.errors)

    @property
    def address(self) -> ChecksumAddress:
        """The address transactions are sent from."""
        return self.signer.address

    @property
    def account(self) -> LocalAccount:
        """The local key (dev-chain set-up, attestations); LocalKeyNeeded with a remote signer."""
        if isinstance(self.signer, LocalAccount):
            return self.signer
        raise LocalKeyNeeded(f"this needs a local key, but {self.signer.address} signs through "
                             "the signer process: use --private-key / --dev-account for it")  # fmt: skip

    @property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    def _send(self, tx: dict[str, Any]) -> TxReceipt:
        tx.setdefault("from", self.address)
        tx.setdefault("nonce", self.w3.eth.get_transaction_count(self.address, "pending"))
        tx.setdefault("chainId", self.chain_id)
        signed = self.signer.sign_transaction(tx)
        receipt = self.w3.eth.wait_for_transaction_receipt(
            self.w3.eth.send_raw_transaction(signed.raw_transaction), timeout=60
        )
        if receipt["status"] != 1:
            raise self._explain_failure(tx, receipt)
        return receipt

    def _explain_failure(self, tx: dict[str, Any], receipt: TxReceipt) -> TransactionReverted:
        """A mined transaction failed (it passed gas estimation, so the state or the time changed
        in between): replay it as a call at its block to recover the revert reason."""
        where = f"tx {receipt['transactionHash'].hex()} in block {receipt['blockNumber']}"
        call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
        try:
            self.w3.eth.call(call, block_identifier=receipt["blockNumber"])  # type: ignore[arg-type]
        except ContractLogicError as exc:
            data = revert_data(exc)
            decoded = self.errors.decode(data)
            if decoded is not None:
                return TransactionReverted(decoded.name, where, decoded=decoded)
        except Exception:  # the replay is best effort; the failure itself is certain
            pass
        gas = f"gas used {receipt['gasUsed']:,} of {tx.get('gas', '?')}"
        return TransactionReverted("transaction failed", f"{where}; {gas}")

    def deploy(self, compiled: CompiledContract, *args: Any) -> Contract:
        self.errors.register(compiled.abi)
        factory = self.w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
        tx = factory.constructor(*args).build_transaction({"from": self.address})
        receipt = self._send(dict(tx))
        address = receipt["contractAddress"]
        assert address is not None
        return self.w3.eth.contract(address=address, abi=compiled.abi)

    def decode_revert(self, fn: ContractFunction, exc: ContractLogicError) -> TransactionReverted:
        """The TransactionReverted for a failed call: error name, arguments and a fix hint."""
        data = revert_data(exc)
        decoded = self.errors.decode(data)
        if decoded is None:
            return TransactionReverted("logic error", str(exc))
        if decoded.name.startswith("unknown custom error") and data:
            # Not registered here (e.g. a contract deployed elsewhere): fall back to fn's own ABI.
            name = error_selectors(fn.contract_abi).get(data[:10])
            if name is not None:
                return TransactionReverted(name)
        return TransactionReverted(decoded.name, decoded=decoded)

    def transact(self, fn: ContractFunction) -> TxReceipt:
        """Send `fn` as a transaction; a revert raises TransactionReverted with the error name."""
        try:
            tx: dict[str, Any] = dict(fn.build_transaction({"from": self.address}))
        except ContractLogicError as exc:
            raise self.decode_revert(fn, exc) from None
        # The estimate is the exact gas of a run at the pending block; the mined run may branch
        # differently (a later timestamp, say) and would then fail out of gas at zero margin.
        tx["gas"] = int(tx["gas"]) * (100 + GAS_MARGIN_PERCENT) // 100
        return self._send(tx)

    def call(self, fn: ContractFunction) -> Any:
        """`fn.call()` from this account; a revert raises TransactionReverted like `transact`."""
        try:
            return fn.call({"from": self.address})
        except ContractLogicError as exc:
            raise self.decode_revert(fn, exc) from None
