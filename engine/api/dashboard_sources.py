"""What the dashboard reads from outside the service: the vault's minimum health factor (its
`policy()` view, over JSON-RPC) and the keeper's proof latency and queue (its Prometheus
`/metrics`). Each is polled by a `Poller` in a worker thread on its own clock, so a slow or dead
endpoint never holds up the journal fold; the page gets the last good value and, once a poll
fails, since when it is stale.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import httpx
from prometheus_client.parser import text_string_to_metric_families

from ..chain.vault_types import VaultPolicy

T = TypeVar("T")
VAULT_REFRESH_S = 30.0
"""The vault's policy changes by governance transaction: every 30 s is fresh enough."""
KEEPER_REFRESH_S = 2.0
"""The keeper's metrics move with each proof."""
TIMEOUT_S = 3.0
PROOF_SECONDS = "zkrisk_keeper_proof_seconds"
PROVE_QUEUE = "zkrisk_keeper_prove_queue_accounts"

_POLICY_COMPONENTS: list[dict[str, str]] = [
    {"name": n, "type": t, "internalType": t}
    for n, t in (
        ("minHealthBps", "uint16"), ("degradedMinHealthBps", "uint16"),
        ("closeFactorBps", "uint16"), ("liquidationBonusBps", "uint16"),
        ("staleSliceBps", "uint16"), ("liquidationCooldown", "uint32"),
        ("maxProofAge", "uint32"), ("maxPriceAge", "uint32"), ("snapshotWindow", "uint32"),
        ("maxAttestationAge", "uint32"), ("minLeftover", "uint128"),
    )
]  # fmt: skip
POLICY_ABI: list[dict[str, object]] = [{
    "type": "function", "name": "policy", "stateMutability": "view", "inputs": [],
    "outputs": [{"name": "", "type": "tuple", "internalType": "struct RiskVault.Policy",
                 "components": _POLICY_COMPONENTS}],
}]  # fmt: skip
"""RiskVault's `policy()` alone (RiskVault.Policy's field order): the dashboard needs no
compiled contracts (tests/api check it against the compiled ABI)."""


@dataclass(frozen=True, slots=True)
class Reading(Generic[T]):
    """A source's last good value (None: never answered), when it was read, and, once a poll
    fails, the error and since when the value is stale."""

    value: T | None = None
    read_at: float | None = None
    error: str = ""
    stale_since: float | None = None


class Poller(Generic[T]):
    """Keeps the `Reading` of a blocking `fetch`, to be called every `every_s` seconds."""

    def __init__(self, fetch: Callable[[], T], every_s: float) -> None:
        self.fetch, self.every_s = fetch, every_s
        self.reading: Reading[T] = Reading()
        self._lock = threading.Lock()

    def poll(self, now: float | None = None) -> bool:
        """Fetch once (unless a fetch is under way); True when the reading changed."""
        now = time.time() if now is None else now
        if not self._lock.acquire(blocking=False):
            return False
        try:
            old = self.reading
            try:
                self.reading = Reading(self.fetch(), now)
            except Exception as exc:  # any failure of the source: keep the last value
                self.reading = Reading(old.value, old.read_at, _describe(exc),
                                       old.stale_since if old.stale_since is not None else now)  # fmt: skip
            return self.reading != old
        finally:
            self._lock.release()


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


# -- the vault ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VaultMinimum:
    min_health_bps: int
    degraded_min_health_bps: int


def vault_minimum_reader(rpc_url: str, vault: str) -> Callable[[], VaultMinimum]:
    """A blocking read of the vault's minimum health factors from its `policy()` view."""
    contracts: list[Any] = []  # web3 loads on the first read, in the poller's worker thread

    def read() -> VaultMinimum:
        if not contracts:
            from eth_utils.address import to_checksum_address
            from web3 import HTTPProvider, Web3

            w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": TIMEOUT_S}))
            contracts.append(w3.eth.contract(address=to_checksum_address(vault), abi=POLICY_ABI))
        raw = contracts[0].functions.policy().call()
        policy = VaultPolicy.from_abi(_POLICY_COMPONENTS, raw)
        return VaultMinimum(policy.min_health_bps, policy.degraded_min_health_bps)

    return read


# -- the keeper --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeeperProofs:
    """The keeper's proof-time histogram (cumulative (upper bound, count) buckets, +Inf last)
    and its prove-queue gauge (None when the keeper does not export it)."""

    buckets: tuple[tuple[float, float], ...]
    count: float
    sum_seconds: float
    queue: float | None


def histogram_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The q-quantile of a Prometheus histogram as `histogram_quantile` computes it: linear
    interpolation inside the bucket holding rank q·count (the first bucket starts at 0; a rank in
    the +Inf bucket answers the highest finite bound). None when there are no observations."""
    if not 0 < q < 1:
        raise ValueError(f"quantile {q} is outside (0, 1)")
    ordered = sorted(buckets)
    if len(ordered) < 2 or not math.isinf(ordered[-1][0]) or ordered[-1][1] == 0:
        return None
    rank = q * ordered[-1][1]
    b = next(i for i, (_, count) in enumerate(ordered) if count >= rank)
    if b == len(ordered) - 1:
        return ordered[-2][0]
    upper, count = ordered[b]
    lower, below = (0.0, 0.0) if b == 0 else ordered[b - 1]
    if b == 0 and upper <= 0:
        return upper
    return lower + (upper - lower) * (rank - below) / (count - below)


def parse_keeper_metrics(text: str) -> KeeperProofs:
    """The proof histogram and queue gauge out of a keeper's /metrics text."""
    buckets: list[tuple[float, float]] = []
    count = total = 0.0
    queue: float | None = None
    found = False
    for family in text_string_to_metric_families(text):
        if family.name == PROOF_SECONDS:
            found = True
            for s in family.samples:
                if s.name.endswith("_bucket"):
                    buckets.append((float(s.labels["le"]), s.value))
                elif s.name.endswith("_count"):
                    count = s.value
                elif s.name.endswith("_sum"):
                    total = s.value
        elif family.name == PROVE_QUEUE and family.samples:
            queue = family.samples[0].value
    if not found:
        raise ValueError(f"no {PROOF_SECONDS} histogram: is this a zkrisk keeper's /metrics?")
    return KeeperProofs(tuple(sorted(buckets)), count, total, queue)


def keeper_metrics_reader(url: str) -> Callable[[], KeeperProofs]:
    """A blocking scrape of the keeper's /metrics."""

    def read() -> KeeperProofs:
        answer = httpx.get(url, timeout=TIMEOUT_S)
        answer.raise_for_status()
        return parse_keeper_metrics(answer.text)

    return read
