"""A keyless trading stack for the runner tests: a real `zkrisk serve` on the wall clock (fresh
prices, the run policy, the trader on its wallet list) approving swaps, and a real
`zkrisk signer serve` holding the trader's keystore; plus the /proc probe that looks for a key
in a process."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from eth_account import Account

from tests.api.server_fixtures import API_KEY, EXAMPLES, SIGNER_KEY, TOKEN, free_port
from zkrisk.engine.api.auth import hash_key
from zkrisk.engine.chain.uniswap_deploy import UniswapAddresses

from .support import DOMAIN, TRADER, SignerProcess, signer_process, write_setup

SERVICE_ENV = {"ZKRISK_SIGNER_KEY": SIGNER_KEY, "ZKRISK_KILLSWITCH_TOKEN": TOKEN}
"""The risk service's own secrets: its approval key (not the trader's) and kill-switch token."""


def fresh_prices(path: Path, weth: str = "3000") -> Path:
    """The example oracle snapshot re-stamped to now (WETH at the pools' price)."""
    now = int(time.time())
    text = (EXAMPLES / "prices.toml").read_text()
    text = re.sub(r"taken_at = \d+", f"taken_at = {now}", text)
    text = re.sub(r"timestamp = \d+", f"timestamp = {now}", text)
    text = text.replace("price = 3012.45", f"price = {weth}")
    path.write_text(text)
    return path


SERVE = """\
policy_file = "policy.toml"
assets_file = "assets.toml"
prices_file = "prices.toml"
portfolio_files = ["portfolio.toml"]
scenarios_file = "scenarios.csv"
audit_db = "audit.sqlite"
state_db = "state.sqlite"
log_level = "warning"
trader_wallets = ["{wallet}"]
[signing]
chain_id = {chain_id}
verifying_contract = "{contract}"
[[api_keys]]
name = "runner"
sha256 = "{digest}"
"""


@dataclass
class Service:
    url: str
    proc: subprocess.Popen[str]


@contextmanager
def risk_service(folder: Path, wallet: str = TRADER) -> Iterator[Service]:
    """`zkrisk serve` over the run policy and a fresh snapshot, on a free port."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(EXAMPLES / "run-policy.toml", folder / "policy.toml")
    for name in ("assets.toml", "portfolio.toml", "scenarios.csv"):
        shutil.copy(EXAMPLES / name, folder / name)
    fresh_prices(folder / "prices.toml")
    config = folder / "serve.toml"
    config.write_text(SERVE.format(wallet=wallet, chain_id=DOMAIN.chain_id,
                                   contract=DOMAIN.verifying_contract, digest=hash_key(API_KEY)))  # fmt: skip
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "zkrisk.engine.cli", "serve", "--config",
                             str(config), "--port", str(port)], env=os.environ | SERVICE_ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"zkrisk serve did not start: {proc.communicate()[0]}")
            time.sleep(0.05)
        yield Service(url, proc)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=10)


@contextmanager
def trader_signer(folder: Path, venue: UniswapAddresses, **policy: object) -> Iterator[SignerProcess]:  # fmt: skip
    """`zkrisk signer serve` for the trader's keystore (folder/trader.json) on `venue`."""
    folder.mkdir(parents=True, exist_ok=True)
    write_setup(folder, venue, **policy)
    with signer_process(folder) as running:
        yield running


SIGNER_ENV = {"ZKRISK_SIGNER_TOKEN": "test-signer-token-0123456789", "ZKRISK_RISK_API_KEY": API_KEY}
"""What a keyless runner is given: the signer's token and the risk service's API key."""


def venue_toml(signer_url: str, service_url: str, wallet: str = TRADER) -> str:
    return (f'signer_url = "{signer_url}"\nwallet = "{wallet}"\n'
            f'risk_service_url = "{service_url}"\n')  # fmt: skip


# -- the probe ------------------------------------------------------------------------------


def key_patterns(private_key: str) -> dict[str, bytes]:
    """What a key looks like in memory: the raw 32 bytes, and its hex (lower and upper case;
    ASCII and UTF-32, the form CPython stores a str with non-Latin-1 neighbours in)."""
    raw = bytes.fromhex(private_key.removeprefix("0x"))
    lower = raw.hex()
    return {"raw": raw, "hex": lower.encode(), "HEX": lower.upper().encode(),
            "hex-utf32": lower.encode("utf-32-le")}  # fmt: skip


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def found_in_memory(pid: int, needles: dict[str, bytes]) -> set[str]:
    """The names of `needles` present in `pid`'s readable memory (/proc/PID/maps + mem)."""
    found: set[str] = set()
    overlap = max(len(n) for n in needles.values())
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            span, perms = line.split()[:2]
            if not perms.startswith("r") or line.rstrip().endswith(("[vvar]", "[vsyscall]")):
                continue
            start, end = (int(x, 16) for x in span.split("-"))
            tail = b""
            for offset in range(start, end, 1 << 24):
                try:
                    mem.seek(offset)
                    chunk = tail + mem.read(min(1 << 24, end - offset))
                except (OSError, ValueError, OverflowError):
                    break
                found.update(name for name, n in needles.items() if n in chunk)
                tail = chunk[-overlap:]
    return found


def key_traces(pid: int, private_key: str, keystore: Path) -> dict[str, set[str]]:
    """Where `pid` (or a child) holds the key or its keystore: 'environ', 'fd', 'memory'."""
    needles = key_patterns(private_key)
    needles["keystore"] = json.loads(keystore.read_text())["crypto"]["ciphertext"].encode()
    traces: dict[str, set[str]] = {"environ": set(), "fd": set(), "memory": set()}
    for p in process_tree(pid):
        environ = Path(f"/proc/{p}/environ").read_bytes()
        traces["environ"] |= {name for name, n in needles.items() if n in environ}
        for fd in Path(f"/proc/{p}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target == str(keystore) or target.endswith(keystore.name):
                traces["fd"].add(target)
        traces["memory"] |= found_in_memory(p, needles)
    return traces


def trader_address(private_key: str) -> str:
    return str(Account.from_key(private_key).address)
