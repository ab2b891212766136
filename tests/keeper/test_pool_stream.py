"""The prover pool's stream (what the keeper's pipeline uses) on a real NATS server with a real
worker and real proofs: jobs submitted one at a time, outcomes as they arrive, a job that fails
in the middle of the stream failing alone."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from zkrisk.engine.natsio.server import NatsNode
from zkrisk.prover.artifacts import CircuitArtifacts
from zkrisk.prover.backends import PoolBackend
from zkrisk.prover.batch import Outcome, open_stream
from zkrisk.prover.errors import WitnessError
from zkrisk.prover.proof import Proof

from ..nats_fixtures import nats_node  # noqa: F401  (fixture)
from ..prover.cases import holding, out_of_range
from ..prover_pool.conftest import TEST_ACK_WAIT_S, running_worker


@pytest.fixture
def pool(nats_node: NatsNode) -> Iterator[PoolBackend]:  # noqa: F811
    backend = PoolBackend(nats_node.url, priority="high", timeout_s=60, ack_wait_s=TEST_ACK_WAIT_S)
    try:
        yield backend
    finally:
        backend.close()


def test_pool_stream_when_a_job_fails_mid_stream_then_only_that_tag_fails_and_the_rest_verify(
    nats_node: NatsNode,  # noqa: F811
    pool: PoolBackend,
    health4: CircuitArtifacts,
) -> None:
    good = [holding(nonce=1300 + i) for i in range(2)]
    outcomes: dict[int, Proof | Exception] = {}
    with running_worker(nats_node.url, {"health4": health4}, "w1"), open_stream(pool) as stream:
        stream.submit(0, health4, good[0].signals())
        stream.submit(1, health4, out_of_range())  # the witness fails: this job alone
        stream.submit(2, health4, good[1].signals())
        deadline = time.monotonic() + 60
        while len(outcomes) < 3 and time.monotonic() < deadline:
            arrived: list[Outcome] = stream.ready() or stream.wait()
            for tag, outcome in arrived:
                assert tag not in outcomes, "one outcome per tag"
                outcomes[tag] = outcome
        assert stream.wait() == [], "nothing outstanding"
    assert sorted(outcomes) == [0, 1, 2]
    assert isinstance(outcomes[1], WitnessError) and "Num2Bits" in str(outcomes[1])
    for tag, statement in ((0, good[0]), (2, good[1])):
        proof = outcomes[tag]
        assert isinstance(proof, Proof) and proof.public_signals == statement.public_signals()
    assert sorted(r.worker for r in pool.last_results) == ["w1", "w1"]


def test_pool_stream_when_no_worker_serves_then_every_outstanding_tag_times_out(
    nats_node: NatsNode,  # noqa: F811
    health4: CircuitArtifacts,
) -> None:
    impatient = PoolBackend(nats_node.url, timeout_s=1, ack_wait_s=TEST_ACK_WAIT_S)
    try:
        with open_stream(impatient) as stream:
            stream.submit(7, health4, holding(nonce=1310).signals())
            stream.submit(8, health4, holding(nonce=1311).signals())
            arrived = stream.wait()
    finally:
        impatient.close()
    assert sorted(tag for tag, _ in arrived) == [7, 8]
    assert all("zkrisk prover worker" in str(outcome) for _, outcome in arrived)
