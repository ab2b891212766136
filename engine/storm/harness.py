"""A liquidation storm: N attested accounts on a fresh Anvil vault, a price crash, and a keeper
that proves and liquidates them all, with W prover-pool workers (or locally when W = 0).

Set-up is not timed: every account deposits the dev scenario's margin and the attester's book
(+1.5 WBTC against −12 WETH) is published with submitAttestedBook (no desk proof needed: an
attested book with escrow is liquidatable). The clock starts once the crash's feed rounds are
mined and stops when the keeper sees the last liquidation mined. At CRASH prices every book has
HF 0.8625 < 0.95, so each account is liquidated once, its whole escrow.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_utils.crypto import keccak

from zkrisk.prover.artifacts import CircuitArtifacts, build
from zkrisk.prover.backends import ProvingBackend, create_backend
from zkrisk.prover.registry import load_registry

from ..chain import dev_scenario as ds
from ..chain.anvil import DEV_PRIVATE_KEYS, anvil
from ..chain.book_attester import DEV_ATTESTER_KEY, attest_for_vault
from ..chain.client import ChainClient
from ..chain.vault_deploy import VaultStack, advance_time, deploy_vault_stack
from ..keeper.books import BookFile
from ..keeper.devnet import fund, snapshot_now
from ..keeper.factory import build_keeper
from ..keeper.keeper import Keeper, KeeperSettings, Liquidation
from ..keeper.logs import JsonLog
from ..keeper.vault_access import checked, handle_from_stack
from ..paths import registry_path, repo_root

KEEPER_KEY = DEV_PRIVATE_KEYS[2]


@dataclass(frozen=True)
class StormConfig:
    """One storm."""

    accounts: int
    """Attested accounts opened before the crash."""
    workers: int = 0
    """Prover-pool workers (`zkrisk prover worker`, each pinned to one core); 0 proves locally."""
    batch_size: int = 10
    """Liquidations per liquidateMany transaction (1: one liquidate each)."""
    circuit: str = "health4"
    """The Health circuit of the vault (the dev scenario lists 3 assets)."""
    nats_url: str | None = None
    """An existing NATS server for the pool (else one is started when workers > 0)."""
    backend: str = "best"
    """Local backend (W = 0) and the workers' backend."""
    timeout_s: float = 1800.0
    """Give up when the keeper has not liquidated every account by then."""


@dataclass(frozen=True)
class StormResult:
    """What the storm measured (and what the chain says)."""

    accounts: int
    workers: int
    proofs: int
    transactions: int
    liquidated: int
    """Accounts the keeper saw liquidated."""
    chain_liquidations: int
    """Liquidated events on chain since the crash (must equal `liquidated`)."""
    seconds: float
    """From the crash's feed rounds mined to the last liquidation mined."""

    @property
    def proofs_per_s(self) -> float:
        return self.proofs / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        return [f"accounts: {self.accounts}", f"workers: {self.workers}",
                f"proofs: {self.proofs}", f"transactions: {self.transactions}",
                f"liquidated: {self.liquidated}",
                f"crash_to_last_liquidation_s: {self.seconds:.2f}",
                f"proofs_per_s: {self.proofs_per_s:.2f}"]  # fmt: skip


def circuit_artifacts(name: str, log: Callable[[str], None]) -> CircuitArtifacts:
    return build(load_registry(registry_path())[name], repo_root(), log=log)


def desk_key(i: int) -> str:
    """Deterministic, public storm keys (never hold value)."""
    return "0x" + keccak(f"zkrisk storm desk {i}".encode()).hex()


def open_accounts(stack: VaultStack, n: int) -> list[BookFile]:
    """N accounts with the dev scenario's deposit and an attested book (no desk proof)."""
    admin = checked(stack.client())
    attester = Account.from_key(DEV_ATTESTER_KEY).address
    symbols = [a.symbol for a in stack.assets]
    snapshot_now(admin)
    books = []
    for i in range(n):
        key = desk_key(i)
        address = Account.from_key(key).address
        fund(stack, address)
        stack.set_attester(address, attester)
        admin.chain.transact(stack.margin_token.functions.mint(address, ds.DEPOSIT))
        desk = checked(stack.client(admin.chain.with_key(key)))
        desk.deposit(ds.DEPOSIT)
        book = BookFile(salt=int.from_bytes(keccak(key.encode())[:24], "big"),
                        portfolio=ds.book(address))  # fmt: skip
        signed = attest_for_vault(desk, book.portfolio, salt=book.salt, symbols=symbols,
                                  private_key=DEV_ATTESTER_KEY)  # fmt: skip
        admin.submit_attested_book(signed)
        books.append(book)
    return books


@contextmanager
def prover_workers(
    url: str, workers: int, circuit: str, backend: str, log: Callable[[str], None]
) -> Iterator[None]:
    """W `zkrisk prover worker` processes, worker i pinned to core i (taskset) with one
    prover thread; returns once each says it is serving."""
    cores = os.cpu_count() or 1
    taskset = shutil.which("taskset")
    procs: list[subprocess.Popen[bytes]] = []
    logs: list[Path] = []
    folder = Path(tempfile.mkdtemp(prefix="zkrisk-storm-"))
    # arkworks (native) sizes its pool from RAYON_NUM_THREADS; snarkjs from UV_THREADPOOL_SIZE
    env = {**os.environ, "RAYON_NUM_THREADS": "1", "UV_THREADPOOL_SIZE": "1"}
    try:
        for i in range(workers):
            argv = [sys.executable, "-m", "zkrisk.engine.cli", "prover", "worker", "--nats", url,
                    "--circuits", circuit, "--backend", backend, "--worker-id", f"storm-{i}"]  # fmt: skip
            if taskset:
                argv = [taskset, "-c", str(i % cores), *argv]
            path = folder / f"worker-{i}.log"
            logs.append(path)
            with path.open("wb") as out:
                procs.append(subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env))
        deadline = time.monotonic() + 120
        while not all("serving" in p.read_text(errors="replace") for p in logs):
            for proc, path in zip(procs, logs, strict=True):
                if proc.poll() is not None:
                    raise RuntimeError(f"prover worker exited: {path.read_text()[-800:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("prover workers did not start within 120 s")
            time.sleep(0.1)
        log(f"{workers} prover worker(s) serving {circuit} on {url}")
        yield
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(folder, ignore_errors=True)


def crash(stack: VaultStack) -> None:
    for symbol, price in ds.CRASH.items():
        stack.set_price(symbol, price)
    advance_time(stack.chain, 1)  # the price book allows one snapshot per second


def run_keeper(keeper: Keeper, accounts: int, timeout_s: float) -> list[Liquidation]:
    """Tick until every account was liquidated once (or the timeout)."""
    seen: dict[str, Liquidation] = {}
    deadline = time.monotonic() + timeout_s
    while len(seen) < accounts:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(seen)} of {accounts} accounts liquidated in {timeout_s} s")
        for done in keeper.tick():
            seen.setdefault(done.account.lower(), done)
    return list(seen.values())


def run_storm(config: StormConfig, *, log: Callable[[str], None] = print) -> StormResult:
    """Start Anvil (and NATS and W workers), open the accounts, crash, liquidate, measure."""
    if config.accounts < 1:
        raise ValueError("--accounts must be at least 1")
    if config.workers < 0:
        raise ValueError("--workers must be 0 (local proving) or more")
    artifacts = circuit_artifacts(config.circuit, log)
    with ExitStack() as stack_:
        node = stack_.enter_context(anvil())
        chain = ChainClient.connect(node.url, DEV_PRIVATE_KEYS[0])
        stack = deploy_vault_stack(chain, artifacts, listed=ds.listed_assets(), policy=ds.POLICY)
        log(f"vault {stack.vault.address} on {node.url}; opening {config.accounts} accounts")
        books = open_accounts(stack, config.accounts)
        backend = stack_.enter_context(_backend(config, stack_, log))
        keeper_chain = chain.with_key(KEEPER_KEY)
        state = Path(stack_.enter_context(tempfile.TemporaryDirectory())) / "keeper.sqlite"
        keeper = build_keeper(
            handle_from_stack(stack, keeper_chain), books, stack.assets, backend, state,
            settings=KeeperSettings(poll_interval=0.0, batch_size=config.batch_size,
                                    receipt_timeout=120.0),
            log=JsonLog(io.StringIO()),
        )  # fmt: skip
        keeper.tick()  # settles the calm snapshot: every book healthy
        crash(stack)
        start_block = int(chain.w3.eth.block_number)
        started = time.perf_counter()
        liquidations = run_keeper(keeper, config.accounts, config.timeout_s)
        seconds = max(x.mined_at for x in liquidations) - started
        events = stack.vault.events.Liquidated().get_logs(from_block=start_block)
        return StormResult(
            accounts=config.accounts, workers=config.workers,
            proofs=int(keeper.metrics.registry.get_sample_value("zkrisk_keeper_proofs_total") or 0),
            transactions=len({x.tx_hash for x in liquidations}),
            liquidated=len(liquidations), chain_liquidations=len(events), seconds=seconds,
        )  # fmt: skip


@contextmanager
def _backend(
    config: StormConfig, stack: ExitStack, log: Callable[[str], None]
) -> Iterator[ProvingBackend]:
    if config.workers == 0:  # the baseline: sequential, in this process, on one core
        cores = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(cores)})
        try:
            with create_backend(config.backend) as local:
                yield local
        finally:
            os.sched_setaffinity(0, cores)
        return
    from zkrisk.prover.backends.pool import PoolBackend

    from ..natsio.server import start_nats

    url = config.nats_url
    if url is None:
        nats = start_nats()
        stack.callback(nats.stop)
        url = nats.url
    stack.enter_context(prover_workers(url, config.workers, config.circuit, config.backend, log))
    pool = PoolBackend(url, priority="high")  # the pool's rule: liquidations go high
    try:
        yield pool
    finally:
        pool.close()
