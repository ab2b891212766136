"""Shared by the sign-call tests: a signer policy with `[[calls]]` rules and a real
`zkrisk signer serve` process holding several wallets' keystores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from eth_account import Account

from zkrisk.engine.chain.uniswap_deploy import UniswapAddresses
from zkrisk.engine.signer.keystore import new_keystore

from .support import PASSPHRASE, TOKEN, TRADER_KEY, write_setup


def toml_value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()) + " }"
    return json.dumps(value)


def write_calls_setup(
    folder: Path,
    venue: UniswapAddresses,
    keys: Sequence[str],
    calls: Sequence[dict[str, Any]],
    **policy: Any,
) -> list[Path]:
    """signer.toml (the trader's wallets plus `calls`) and one keystore per key in `keys`
    (the trader's always); the keystores' paths."""
    config, trader, _ = write_setup(folder, venue, **policy)
    lines = [config.read_text()]
    for rule in calls:
        lines.append("[[calls]]\n" + "".join(f"{k} = {toml_value(v)}\n" for k, v in rule.items()))
    config.write_text("\n".join(lines))
    stores = [trader]
    for key in keys:
        if key == TRADER_KEY:
            continue
        path = folder / f"{Account.from_key(key).address}.json"
        if not path.exists():
            path.write_text(new_keystore(key, PASSPHRASE, iterations=1024))
        stores.append(path)
    return stores


@dataclass
class CallSigner:
    process: subprocess.Popen[str]
    url: str

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(self.url + path, json=body, timeout=30,
                          headers={"authorization": f"Bearer {TOKEN}"})  # fmt: skip

    def sign_call(self, wallet: str, tx: dict[str, Any], **extra: Any) -> httpx.Response:
        return self.post("/v1/sign-call", {"wallet": wallet, "transaction": tx, **extra})

    def refused(self, wallet: str, tx: dict[str, Any]) -> tuple[str, str]:
        response = self.sign_call(wallet, tx)
        assert response.status_code == 403, response.text
        return response.json()["refused"], response.json()["detail"]


def start_signer(folder: Path, keystores: Sequence[Path]) -> subprocess.Popen[str]:
    env = os.environ | {"ZKRISK_SIGNER_TOKEN": TOKEN}
    env.pop("ZKRISK_CRASH_AT", None)
    argv = [sys.executable, "-m", "zkrisk.engine.cli", "signer", "serve",
            "--config", str(folder / "signer.toml"), "--passphrase-file",
            str(folder / "passphrase")]  # fmt: skip
    for store in keystores:
        argv += ["--keystore", str(store)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)  # fmt: skip


@contextmanager
def call_signer(folder: Path, keystores: Sequence[Path]) -> Iterator[CallSigner]:
    """`zkrisk signer serve` with `keystores` on a free port, stopped (SIGTERM) on exit."""
    process = start_signer(folder, keystores)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on " in line, line + (process.stderr.read() if process.stderr else "")
        yield CallSigner(process, line.split("listening on ")[1].split()[0])
    finally:
        if process.poll() is None:
            process.terminate()
        process.communicate(timeout=10)
