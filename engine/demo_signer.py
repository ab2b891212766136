"""The demo's keyless trading set-up: the desk wallet's key goes into a V3 keystore under
build/demo-signer/, a `zkrisk signer serve` process opens it, and a risk service (in a thread of
the demo, over the run policy, a fresh oracle snapshot and the desk's book) approves each swap
with its exact transaction. The trading act's runner then holds no key: its Uniswap venue asks
the service for an approval and the signer for the signature (`venues.signer_client`)."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account

from .api.auth import hash_key
from .api.config import ApiKeyConfig, Secrets, ServeConfig, SigningConfig
from .api.server import build_server
from .chain.anvil import free_port
from .paths import repo_root
from .risk.models import Portfolio
from .signer.keystore import new_keystore

KEYSTORE_KDF_N = 2**14
"""scrypt cost of the demo's keystore (a dev chain's key: opening it must not slow the demo)."""
TOKEN_ENV, API_KEY_ENV = "ZKRISK_SIGNER_TOKEN", "ZKRISK_RISK_API_KEY"
CHAIN_AHEAD_S = 3 * 3600
"""The demo's chain runs hours ahead of the wall clock (it skipped timelock delays): a swap's
deadline (the chain's time + 300 s) lies that far after the signer's now."""


@dataclass(frozen=True)
class Keyless:
    signer_url: str
    signer_pid: int
    keystore: Path
    service_url: str
    approver: str
    """The risk service's approval address (the only one the signer accepts)."""

    def venue_toml(self, wallet: str) -> str:
        """The `[venue.uniswap]` lines that trade through them."""
        return (f'signer_url = "{self.signer_url}"\nwallet = "{wallet}"\n'
                f'risk_service_url = "{self.service_url}"\n')  # fmt: skip


def _prices(path: Path, weth: str) -> Path:
    """The example oracle snapshot stamped now, WETH at `weth` (the tape's price)."""
    now = int(time.time())
    text = (repo_root() / "examples" / "prices.toml").read_text()
    text = re.sub(r"taken_at = \d+", f"taken_at = {now}", text)
    text = re.sub(r"timestamp = \d+", f"timestamp = {now}", text)
    path.write_text(re.sub(r"(\[prices\.WETH\]\nprice = )[0-9.]+", rf"\g<1>{weth}", text))
    return path


@contextmanager
def _service(tmp: Path, wallet: str, book: Portfolio, chain_id: int, weth: str, api_key: str,
             key: str, port: int) -> Iterator[None]:  # fmt: skip
    """The risk service in a thread on `port`, signing approvals with `key`."""
    examples = repo_root() / "examples"
    (tmp / "desk-book.json").write_text(book.model_dump_json())
    config = ServeConfig(
        policy_file=examples / "run-policy.toml", assets_file=examples / "assets.toml",
        prices_file=_prices(tmp / "prices.toml", weth), portfolio_files=(tmp / "desk-book.json",),
        scenarios_file=examples / "scenarios.csv", audit_db=tmp / "audit.sqlite",
        state_db=tmp / "state.sqlite", port=port, log_level="warning", trader_wallets=(wallet,),
        api_keys=(ApiKeyConfig(name="demo-runner", sha256=hash_key(api_key)),),
        signing=SigningConfig(chain_id=chain_id),
    )  # fmt: skip
    server, _ = build_server(config, Secrets(key, secrets.token_hex(16)))
    thread = threading.Thread(target=server.run, name="demo-risk-service", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the demo's risk service did not start")
        time.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@contextmanager
def keyless_trading(tmp: Path, wallet: str, key: str, book: Portfolio, *, addresses: Path,
                    node_url: str, chain_id: int, weth_price: str,
                    meanwhile: Callable[[], object] = lambda: None) -> Iterator[Keyless]:  # fmt: skip
    """The keystore, the signer process (sending what it signs to `node_url`) and the risk
    service, stopped on exit (`meanwhile` runs while the signer process starts); while inside,
    the runner's secrets (the signer's token, the service's API key) are in the environment."""
    folder = repo_root() / "build" / "demo-signer"
    folder.mkdir(parents=True, exist_ok=True)
    passphrase = secrets.token_hex(16)
    keystore = folder / "desk-keystore.json"
    keystore.write_text(new_keystore(key, passphrase, iterations=KEYSTORE_KDF_N))
    phrase_file = tmp / "signer-passphrase"
    phrase_file.write_text(passphrase + "\n")
    token, api_key = secrets.token_hex(16), secrets.token_hex(16)
    service_key, service_port = "0x" + secrets.token_hex(32), free_port()
    url, approver = f"http://127.0.0.1:{service_port}", str(Account.from_key(service_key).address)
    policy = {"approver": approver, "wallets": [wallet], "uniswap_addresses": str(addresses),
              "nonce_db": str(tmp / "signer-nonces.sqlite"), "halt_file": str(tmp / "HALTED"),
              "risk_service_url": url, "public_rpc_url": node_url, "port": 0,
              "max_deadline_seconds": CHAIN_AHEAD_S}  # fmt: skip
    lines = [f"{k} = {json.dumps(v)}" for k, v in policy.items()]
    lines += ["[approval_domain]", f"chain_id = {chain_id}"]
    config = tmp / "signer.toml"
    config.write_text("\n".join(lines) + "\n")
    # The signer first: its start (imports, the keystore) overlaps the service's and `meanwhile`.
    process = subprocess.Popen(
        [sys.executable, "-m", "zkrisk.engine.cli", "signer", "serve", "--config",
         str(config), "--keystore", str(keystore), "--passphrase-file", str(phrase_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=os.environ | {TOKEN_ENV: token},
    )  # fmt: skip
    try:
        with _service(tmp, wallet, book, chain_id, weth_price, api_key, service_key,
                      service_port):  # fmt: skip
            meanwhile()
            assert process.stdout is not None
            line = process.stdout.readline()
            if "listening on " not in line:
                raise RuntimeError(f"the demo's signer did not start: {line}"
                                   f"{process.stderr.read() if process.stderr else ''}")  # fmt: skip
            signer_url = line.split("listening on ")[1].split()[0]
            os.environ[TOKEN_ENV], os.environ[API_KEY_ENV] = token, api_key
            yield Keyless(signer_url, process.pid, keystore, url, approver)
    finally:
        os.environ.pop(TOKEN_ENV, None)
        os.environ.pop(API_KEY_ENV, None)
        if process.poll() is None:
            process.terminate()
        process.communicate(timeout=10)
