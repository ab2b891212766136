"""Deploy contracts and send signed transactions with web3.py; decode custom errors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import Web3
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.types import TxReceipt

from .solidity import CompiledContract


class TransactionReverted(RuntimeError):
    """A call or transaction reverted; `error` is the decoded custom error name when known."""

    def __init__(self, error: str, detail: str = ""):
        super().__init__(f"reverted: {error}{(' ' + detail) if detail else ''}")
        self.error = error


def error_selectors(abi: Sequence[Any]) -> dict[str, str]:
    """0x-selector → `Name(types)` for every custom error in an ABI."""
    out: dict[str, str] = {}
    for item in abi:
        if item.get("type") == "error":
            signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
            out["0x" + keccak(text=signature)[:4].hex()] = item["name"]
    return out


@dataclass
class ChainClient:
    w3: Web3
    account: LocalAccount

    @classmethod
    def connect(cls, url: str, private_key: str) -> ChainClient:
        w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
        if not w3.is_connected():
            raise ConnectionError(f"no Ethereum JSON-RPC node answers at {url}")
        return cls(w3, Account.from_key(private_key))

    @property
    def chain_id(self) -> int:
        return int(self.w3.eth.chain_id)

    def _send(self, tx: dict[str, Any]) -> TxReceipt:
        tx.setdefault("from", self.account.address)
        tx.setdefault("nonce", self.w3.eth.get_transaction_count(self.account.address, "pending"))
        tx.setdefault("chainId", self.chain_id)
        signed = self.account.sign_transaction(tx)
        receipt = self.w3.eth.wait_for_transaction_receipt(
            self.w3.eth.send_raw_transaction(signed.raw_transaction), timeout=60
        )
        if receipt["status"] != 1:
            raise TransactionReverted(
                "transaction failed", f"tx {receipt['transactionHash'].hex()}"
            )
        return receipt

    def deploy(self, compiled: CompiledContract, *args: Any) -> Contract:
        factory = self.w3.eth.contract(abi=compiled.abi, bytecode=compiled.bytecode)
        tx = factory.constructor(*args).build_transaction({"from": self.account.address})
        receipt = self._send(dict(tx))
        address = receipt["contractAddress"]
        assert address is not None
        return self.w3.eth.contract(address=address, abi=compiled.abi)

    def transact(self, fn: ContractFunction) -> TxReceipt:
        """Send `fn` as a transaction; a revert raises TransactionReverted with the error name."""
        try:
            tx = fn.build_transaction({"from": self.account.address})
        except ContractCustomError as exc:
            selector = str(exc.data)[:10] if exc.data else ""
            name = error_selectors(fn.contract_abi).get(
                selector, selector or "unknown custom error"
            )
            raise TransactionReverted(name) from None
        except ContractLogicError as exc:
            raise TransactionReverted("logic error", str(exc)) from None
        return self._send(dict(tx))
