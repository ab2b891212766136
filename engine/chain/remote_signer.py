"""A typed client of the signer process (`zkrisk signer serve`) and a `TxSigner` that signs
through it: the key stays in the signer, this side holds only the wallet's address and the
API's bearer token (read from an environment variable, never a flag).

The signer signs EIP-1559 (type 2) transactions only: `unsigned_transaction` turns what web3's
`build_transaction` gives into its body (a legacy `gasPrice` becomes maxFee = maxPriorityFee).
A refusal (403) is `SignerRefused` carrying the signer's reason code and detail; no answer, or
an answer that is not the API's, is `SignerUnavailable`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Final

import httpx
from eth_typing import ChecksumAddress
from eth_utils.address import is_address, to_checksum_address

DEFAULT_TOKEN_ENV: Final = "ZKRISK_SIGNER_TOKEN"


class SignerRefused(RuntimeError):
    """The signer refused to sign (403, or 502 NOT_DELIVERED): `code` is its reason."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"the signer refused: {code}: {detail}")
        self.code, self.detail = code, detail


class SignerUnavailable(ConnectionError):
    """The signer did not answer, or answered something that is not its API."""


@dataclass(frozen=True, slots=True)
class RemoteSignature:
    """A `SignedTx`: what the signer signed, and who sent it when it broadcast (`route`)."""

    raw_transaction: bytes
    hash: bytes
    route: str | None = None


def _hex(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return "0x" + bytes(value).hex()
    text = str(value)
    return text if text.startswith("0x") else "0x" + text


def unsigned_transaction(tx: dict[str, Any]) -> dict[str, Any]:
    """The signer's UnsignedTransaction body of a web3 transaction dict (type 2)."""
    if not tx.get("to"):
        raise ValueError("a contract deployment (no `to`) cannot go through the signer: "
                         "deploy with --private-key / --dev-account")  # fmt: skip
    if "maxFeePerGas" in tx:
        fees = int(tx["maxFeePerGas"]), int(tx.get("maxPriorityFeePerGas", 0))
    elif "gasPrice" in tx:
        fees = int(tx["gasPrice"]), int(tx["gasPrice"])
    else:
        raise ValueError("the transaction has no fee: set maxFeePerGas (EIP-1559)")
    return {"chainId": int(tx["chainId"]), "nonce": int(tx["nonce"]), "to": str(tx["to"]),
            "value": int(tx.get("value", 0)), "data": _hex(tx.get("data", "0x")),
            "gas": int(tx["gas"]), "maxFeePerGas": fees[0], "maxPriorityFeePerGas": fees[1]}  # fmt: skip


def token_from_env(name: str = DEFAULT_TOKEN_ENV) -> str:
    """The API's bearer token from `$name`; ValueError saying how to set it."""
    token = os.environ.get(name, "")
    if not token:
        raise ValueError(f"${name} must hold the signer's bearer token (the one its "
                         "`zkrisk signer serve` reads): export it first")  # fmt: skip
    return token


class SignerApi:
    """`POST /v1/sign`, `POST /v1/sign-call` and `GET /healthz` of one signer."""

    def __init__(self, url: str, token: str, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s,
                                  headers={"authorization": f"Bearer {token}"})  # fmt: skip

    def health(self) -> dict[str, Any]:
        return self._call("GET", "/healthz", None)

    def sign(
        self, approval: dict[str, Any], transaction: dict[str, Any], broadcast: bool = False
    ) -> dict[str, Any]:
        """The transaction an approval covers, signed (and sent with `broadcast`)."""
        body = {"approval": approval, "transaction": transaction, "broadcast": broadcast}
        return self._call("POST", "/v1/sign", body)

    def sign_call(
        self, wallet: str, transaction: dict[str, Any], broadcast: bool = False
    ) -> dict[str, Any]:
        """A transaction a `[[calls]]` rule (or the cancel rule) covers, signed."""
        body = {"wallet": wallet, "transaction": transaction, "broadcast": broadcast}
        return self._call("POST", "/v1/sign-call", body)

    def _call(self, method: str, path: str, body: dict[str, Any] | None) -> dict[str, Any]:
        try:
            response = self._http.request(method, path, json=body)
        except httpx.HTTPError as exc:
            raise SignerUnavailable(f"the signer at {self.url} did not answer "
                                    f"({type(exc).__name__}: {exc}): is it running?") from None  # fmt: skip
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise SignerUnavailable(f"{self.url}{path} answered {response.status_code} with "
                                    f"no JSON object: is that the signer?")  # fmt: skip
        if response.status_code in (403, 502) and "refused" in answer:
            raise SignerRefused(str(answer["refused"]), str(answer.get("detail", "")))
        if response.status_code == 401:
            raise SignerRefused("UNAUTHORIZED", "the signer refused the bearer token: export "
                                "the token its `zkrisk signer serve` reads")  # fmt: skip
        if response.status_code != 200:
            raise SignerRefused(f"HTTP_{response.status_code}", str(answer.get("detail", answer)))
        return answer

    def close(self) -> None:
        self._http.close()


class RemoteTxSigner:
    """A `TxSigner` for `wallet` whose key only the signer process holds (sign-call)."""

    def __init__(self, api: SignerApi, wallet: str) -> None:
        if not is_address(wallet):
            raise ValueError(f"{wallet!r} is not a wallet address")
        self.api, self._wallet = api, to_checksum_address(wallet)

    @property
    def address(self) -> ChecksumAddress:
        return self._wallet

    def sign_transaction(self, transaction_dict: dict[str, Any], /) -> RemoteSignature:
        sender = transaction_dict.get("from")
        if sender is not None and str(sender).lower() != self._wallet.lower():
            raise ValueError(f"the transaction is from {sender}, the signer signs as "
                             f"{self._wallet}")  # fmt: skip
        reply = self.api.sign_call(self._wallet, unsigned_transaction(transaction_dict))
        return RemoteSignature(bytes.fromhex(str(reply["raw_transaction"])[2:]),
                               bytes.fromhex(str(reply["tx_hash"])[2:]), reply.get("route"))  # fmt: skip


def connect_signer(url: str, token_env: str = DEFAULT_TOKEN_ENV, wallet: str | None = None) -> RemoteTxSigner:  # fmt: skip
    """A RemoteTxSigner on the signer at `url` for `wallet`, or for the one wallet the signer
    holds (its /healthz); ValueError saying what to give when that is not one."""
    api = SignerApi(url, token_from_env(token_env))
    try:
        try:
            held = [str(w).lower() for w in api.health().get("wallets", [])]
        except (SignerUnavailable, SignerRefused) as exc:
            raise ValueError(str(exc)) from None
        if wallet is None:
            if len(held) != 1:
                raise ValueError(f"the signer at {url} holds {len(held)} wallets ({held}): name "
                                 "one with --signer-wallet")  # fmt: skip
            wallet = held[0]
        elif wallet.lower() not in held:
            raise ValueError(f"the signer at {url} holds no key for {wallet} (it holds {held})")
        return RemoteTxSigner(api, wallet)
    except BaseException:
        api.close()
        raise
