"""The dashboard's outside sources: the vault's minimum health factor read from a vault deployed
on a real Anvil node, and proof latency / prove queue scraped from a real keeper /metrics
server; the quantile maths against hand-computed values."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIServer

import pytest

from zkrisk.engine.api.config import DashboardConfig
from zkrisk.engine.api.dashboard_sources import (
    POLICY_ABI,
    Poller,
    Reading,
    VaultMinimum,
    histogram_quantile,
    keeper_metrics_reader,
    parse_keeper_metrics,
    vault_minimum_reader,
)
from zkrisk.engine.api.dashboard_state import NO_KEEPER_METRICS, NO_VAULT_MIN, proofs_panel
from zkrisk.engine.api.dashboard_state import vault_minimum_panel as vault_panel
from zkrisk.engine.chain import dev_scenario as ds
from zkrisk.engine.chain.anvil import AnvilNode, start_anvil
from zkrisk.engine.keeper.metrics import KeeperMetrics, serve_metrics
from zkrisk.prover.artifacts import CircuitArtifacts

from ..contracts.world import VaultWorld
from ..pipeline.runner_support import write_config
from .dashboard_support import RunJournal
from .server_fixtures import config_for, desk_folder, free_port, running_server

INF = math.inf
HAND = ((0.1, 2.0), (0.5, 6.0), (1.0, 9.0), (INF, 10.0))
"""Cumulative buckets of 10 observations: 2 ≤ 0.1 s, 4 in (0.1, 0.5], 3 in (0.5, 1], 1 above."""
PROOF_TIMES = (0.15, 0.25, 0.25, 0.4, 1.5)
"""Into the keeper's buckets (…, 0.2, 0.3, 0.5, …, 1, 2, …): 1 ≤ 0.2, 3 ≤ 0.3, 4 ≤ 1, 5 ≤ 2."""


# -- the quantile (pure) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        (0.1, 0.05),  # rank 1 in the first bucket, which starts at 0: 0 + 0.1 · 1/2
        (0.5, 0.4),  # rank 5 in (0.1, 0.5] holding ranks 3..6: 0.1 + 0.4 · 3/4
        (0.8, 0.5 + 0.5 * 2 / 3),  # rank 8 in (0.5, 1] holding ranks 7..9
        (0.95, 1.0),  # rank 9.5 in +Inf: the highest finite bound
    ],
)
def test_histogram_quantile_interpolates_linearly_within_the_bucket_holding_the_rank(
    q: float, expected: float
) -> None:
    assert histogram_quantile(q, HAND) == pytest.approx(expected)
    assert histogram_quantile(q, tuple(reversed(HAND))) == pytest.approx(expected)  # any order


def test_histogram_quantile_of_no_observations_is_none_not_zero() -> None:
    assert histogram_quantile(0.5, ((0.1, 0.0), (INF, 0.0))) is None
    assert histogram_quantile(0.5, ()) is None
    with pytest.raises(ValueError, match="outside"):
        histogram_quantile(1.0, HAND)


def test_keeper_metrics_without_the_proof_histogram_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match="zkrisk_keeper_proof_seconds"):
        parse_keeper_metrics("# TYPE other gauge\nother 1\n")


# -- the keeper's /metrics, served for real ---------------------------------------------------


@pytest.fixture
def keeper() -> Iterator[tuple[KeeperMetrics, str, WSGIServer]]:
    metrics = KeeperMetrics()
    server = serve_metrics(metrics, 0)
    try:
        yield metrics, f"http://127.0.0.1:{server.server_port}/metrics", server
    finally:
        server.shutdown()
        server.server_close()


def test_proofs_panel_shows_p50_p95_and_the_queue_of_a_real_keeper_then_goes_stale(
    keeper: tuple[KeeperMetrics, str, WSGIServer],
) -> None:
    metrics, url, server = keeper
    for seconds in PROOF_TIMES:
        metrics.proof_seconds.observe(seconds)
    metrics.prove_queue.set(3)
    poller = Poller(keeper_metrics_reader(url), 2.0)
    assert poller.poll()
    panel = proofs_panel(url, poller.reading)
    assert panel["p50_ms"] == pytest.approx(275.0)  # rank 2.5 in (0.2, 0.3]: 0.2 + 0.1 · 1.5/2
    assert panel["p95_ms"] == pytest.approx(1750.0)  # rank 4.75 in (1, 2]: 1 + 1 · 0.75/1
    assert panel["mean_ms"] == pytest.approx(sum(PROOF_TIMES) / 5 * 1000)
    assert (panel["queue"], panel["proofs"], panel["stale_note"]) == (3.0, 5.0, "")
    server.shutdown()
    server.server_close()
    assert poller.poll()
    stale = proofs_panel(url, poller.reading)
    assert stale["p50_ms"] == panel["p50_ms"] and stale["queue"] == 3.0  # the last good value
    assert stale["stale_note"].startswith("stale since ")


def test_proofs_panel_says_why_it_has_no_numbers_instead_of_zeros() -> None:
    assert proofs_panel(None, None) == {"note": NO_KEEPER_METRICS}
    url = f"http://127.0.0.1:{free_port()}/metrics"
    poller = Poller(keeper_metrics_reader(url), 2.0)
    poller.poll()
    panel = proofs_panel(url, poller.reading)
    assert list(panel) == ["note"] and "do not answer" in panel["note"] and url in panel["note"]
    empty = proofs_panel(url, Reading(parse_keeper_metrics(_idle_keeper_text()), time.time()))
    assert (empty["p50_ms"], empty["p95_ms"], empty["proofs_note"]) == (None, None, "no proof yet")


def _idle_keeper_text() -> str:
    from prometheus_client import generate_latest

    return generate_latest(KeeperMetrics().registry).decode()


# -- the vault's minimum, on a real Anvil -----------------------------------------------------


@pytest.fixture(scope="module")
def vault_node() -> Iterator[AnvilNode]:
    node = start_anvil()  # the module's own node: one test stops it
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def world(vault_node: AnvilNode, health4: CircuitArtifacts) -> VaultWorld:
    return VaultWorld.deploy(vault_node, health4)


def test_the_dashboards_policy_abi_is_the_compiled_vaults(world: VaultWorld) -> None:
    [compiled] = [e for e in world.stack.vault.abi if e.get("name") == "policy"]
    ours = POLICY_ABI[0]
    assert [(c["name"], c["type"]) for c in compiled["outputs"][0]["components"]] == [
        (c["name"], c["type"])
        for c in ours["outputs"][0]["components"]  # type: ignore[index]
    ]


def test_served_state_shows_the_on_chain_minimum_and_the_keepers_proof_latency(
    tmp_path: Path, world: VaultWorld, vault_node: AnvilNode,
    keeper: tuple[KeeperMetrics, str, WSGIServer],
) -> None:  # fmt: skip
    metrics, url, _ = keeper
    for seconds in PROOF_TIMES:
        metrics.proof_seconds.observe(seconds)
    config = write_config(tmp_path, free_port())
    journal = RunJournal(tmp_path / "journal.db")
    journal.quote("3000")
    board = DashboardConfig(run_config=config, rpc_url=vault_node.url,
                            vault=world.stack.vault.address, keeper_metrics_url=url)  # fmt: skip
    folder = tmp_path / "desk"
    folder.mkdir()
    try:
        with running_server(config_for(desk_folder(folder), dashboard=board)) as server:
            deadline = time.monotonic() + 10
            while True:
                state = server.http.get("/dashboard/state").json()
                health = (state.get("run") or {}).get("health", {})
                if health.get("vault_min_source") == "on-chain" and "p50_ms" in state["proofs"]:
                    break
                assert time.monotonic() < deadline, state
                time.sleep(0.05)
    finally:
        journal.close()
    assert health["vault_min"] == world.admin.policy().min_health_bps / 10_000
    assert state["proofs"]["p95_ms"] == pytest.approx(1750.0)


def test_vault_minimum_is_read_on_chain_follows_policy_changes_and_survives_a_dead_rpc(
    world: VaultWorld, vault_node: AnvilNode
) -> None:
    poller = Poller(vault_minimum_reader(vault_node.url, world.stack.vault.address), 30.0)
    assert poller.poll()
    assert poller.reading.value == VaultMinimum(10_500, 12_000)
    shown = vault_panel(10_100, poller.reading)
    assert (shown["vault_min"], shown["vault_degraded_min"], shown["vault_min_source"]) == (
        1.05, 1.2, "on-chain")  # fmt: skip
    world.stack.set_policy(dataclasses.replace(ds.POLICY, min_health_bps=11_000))
    assert poller.poll() and poller.reading.value == VaultMinimum(11_000, 12_000)
    vault_node.stop()  # the module's last user of the node (the tests run in file order)
    assert poller.poll()
    stale = vault_panel(10_100, poller.reading)
    assert (stale["vault_min"], stale["vault_min_source"]) == (1.1, "on-chain")
    assert stale["vault_note"].startswith("stale since ")


def test_vault_minimum_falls_back_to_the_configured_number_labelled_as_configured() -> None:
    assert vault_panel(None, None)["vault_note"] == NO_VAULT_MIN
    configured = vault_panel(10_500, None)
    assert (configured["vault_min"], configured["vault_min_source"]) == (1.05, "configured")
    dead = vault_panel(10_500, Reading(error="ConnectionError: refused", stale_since=1.0))
    assert (dead["vault_min"], dead["vault_min_source"]) == (1.05, "configured")
    assert "does not answer" in dead["vault_note"]
    assert vault_panel(None, dead_reading := Reading(error="x"))["vault_min"] is None
    assert dead_reading.value is None


def test_a_vault_without_an_rpc_url_or_a_malformed_address_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rpc_url and vault go together"):
        DashboardConfig(run_config=tmp_path, vault="0x" + "ab" * 20)
    with pytest.raises(ValueError, match="20-byte hex address"):
        DashboardConfig(run_config=tmp_path, rpc_url="http://x", vault="0xabc")
