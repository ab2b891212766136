"""Shared by the signer tests: approvals from a risk-service key, router swaps, and a real
`zkrisk signer serve` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from eth_abi import encode
from eth_account import Account
from eth_utils.crypto import keccak

from zkrisk.engine.api.config import SigningConfig
from zkrisk.engine.api.schemas import ApprovalTransaction, SignedApproval
from zkrisk.engine.api.signer import ApprovalSigner, approval_message
from zkrisk.engine.chain.anvil import DEV_PRIVATE_KEYS
from zkrisk.engine.chain.uniswap_deploy import TokenRecord, UniswapAddresses, save_addresses
from zkrisk.engine.risk.models import OrderIntent
from zkrisk.engine.signer.keystore import new_keystore

SERVICE_KEY = "0x" + "5e" * 32
TRADER_KEY = DEV_PRIVATE_KEYS[1]
TRADER = Account.from_key(TRADER_KEY).address
TOKEN = "test-signer-token-0123456789"
PASSPHRASE = "correct horse battery staple"
DOMAIN = SigningConfig(chain_id=31337, verifying_contract="0x" + "0f" * 20)
NOW = int(time.time())
"""The tests' "now" for the pure checks; approvals and deadlines default to the clock at the call."""
ARGS = ["uint256", "uint256", "address[]", "address", "uint256"]
SELL = keccak(b"swapExactTokensForTokens(uint256,uint256,address[],address,uint256)")[:4]
BUY = keccak(b"swapTokensForExactTokens(uint256,uint256,address[],address,uint256)")[:4]

FAKE_VENUE = UniswapAddresses(
    chain_id=31337, factory="0x" + "fa" * 20, router="0x" + "a0" * 20, weth="0x" + "ee" * 20,
    tokens={"USDC": TokenRecord(address="0x" + "c0" * 20, decimals=6),
            "WETH": TokenRecord(address="0x" + "e0" * 20, decimals=18)},
    pairs={"WETH": "0x" + "b0" * 20},
)  # fmt: skip


def swap_data(venue: UniswapAddresses, *, side: str = "SELL", exact: int = 5 * 10**17,
              bound: int = 500_000, to: str = TRADER, deadline: int | None = None) -> str:  # fmt: skip
    """Router calldata: SELL 0.5 WETH for ≥ 0.5 USDC by default (a limit of 1 USD)."""
    weth, usdc = venue.tokens["WETH"].address, venue.tokens["USDC"].address
    path = [weth, usdc] if side == "SELL" else [usdc, weth]
    args = [exact, bound, path, to, int(time.time()) + 300 if deadline is None else deadline]
    return "0x" + ((SELL if side == "SELL" else BUY) + encode(ARGS, args)).hex()


def approve(
    venue: UniswapAddresses,
    data: str,
    *,
    nonce: int = 1,
    side: str = "SELL",
    quantity: str = "0.5",
    limit_price: str = "1",
    expiry: int | None = None,
    key: str = SERVICE_KEY,
    wallet: str = TRADER,
    target: str | None = None,
    covered: bool = True,
) -> SignedApproval:
    """The risk service's approval of a LIMIT order on uniswap covering `data` to the router."""
    intent = OrderIntent(client_order_id=f"o-{nonce}", symbol="WETH", side=side,
                         quantity=Decimal(quantity), order_type="LIMIT",
                         limit_price=Decimal(limit_price), counterparty="uniswap")  # fmt: skip
    tx = ApprovalTransaction(wallet=wallet, to=target or venue.router, data=data)
    message = approval_message(intent, account="0x" + "12" * 20, policy_id="p/1", snapshot_id=7,
                               nonce=nonce, expiry=int(time.time()) + 600 if expiry is None else expiry,
                               transaction=tx if covered else None)  # fmt: skip
    return ApprovalSigner(key, DOMAIN).sign(message)


def transaction(venue: UniswapAddresses, data: str, **overrides: Any) -> dict[str, Any]:
    tx: dict[str, Any] = {"chainId": venue.chain_id, "nonce": 0, "to": venue.router, "value": 0,
                          "data": data, "gas": 300_000, "maxFeePerGas": 10 * 10**9,
                          "maxPriorityFeePerGas": 10**9}  # fmt: skip
    return tx | overrides


def request(approval: SignedApproval, tx: dict[str, Any]) -> dict[str, Any]:
    return {"approval": approval.model_dump(mode="json"), "transaction": tx}


def write_setup(folder: Path, venue: UniswapAddresses, **policy: Any) -> tuple[Path, Path, Path]:
    """(signer.toml, keystore, passphrase file) in `folder` for the trader's wallet."""
    save_addresses(venue, folder / "uniswap.json")
    keystore = folder / "trader.json"
    if not keystore.exists():
        keystore.write_text(new_keystore(TRADER_KEY, PASSPHRASE, iterations=1024))
    (folder / "passphrase").write_text(PASSPHRASE + "\n")
    fields: dict[str, Any] = {"approver": Account.from_key(SERVICE_KEY).address,
                              "wallets": [TRADER], "uniswap_addresses": "uniswap.json",
                              "nonce_db": "nonces.sqlite", "halt_file": "HALTED",
                              "max_deadline_seconds": 7200, "port": 0} | policy  # fmt: skip
    lines = [f"{k} = {json.dumps(v)}" for k, v in fields.items()]
    lines += ["[approval_domain]", f"chain_id = {DOMAIN.chain_id}",
              f'verifying_contract = "{DOMAIN.verifying_contract}"']  # fmt: skip
    config = folder / "signer.toml"
    config.write_text("\n".join(lines) + "\n")
    return config, keystore, folder / "passphrase"


@dataclass
class SignerProcess:
    process: subprocess.Popen[str]
    url: str

    def sign(self, body: dict[str, Any], token: str = TOKEN) -> httpx.Response:
        return httpx.post(self.url + "/v1/sign", json=body, timeout=10,
                          headers={"authorization": f"Bearer {token}"})  # fmt: skip


@contextmanager
def signer_process(folder: Path, crash_at: str | None = None) -> Iterator[SignerProcess]:
    """`zkrisk signer serve` on a free port, stopped (SIGTERM) on exit."""
    config, keystore, passphrase = (
        folder / "signer.toml",
        folder / "trader.json",
        folder / "passphrase",
    )
    env = os.environ | {"ZKRISK_SIGNER_TOKEN": TOKEN}
    env.pop("ZKRISK_CRASH_AT", None)
    if crash_at:
        env["ZKRISK_CRASH_AT"] = crash_at
    process = subprocess.Popen(
        [sys.executable, "-m", "zkrisk.engine.cli", "signer", "serve", "--config", str(config),
         "--keystore", str(keystore), "--passphrase-file", str(passphrase)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on " in line, line + (process.stderr.read() if process.stderr else "")
        yield SignerProcess(process, line.split("listening on ")[1].split()[0])
    finally:
        if process.poll() is None:
            process.terminate()
        process.communicate(timeout=10)
