"""The prover pool: proof jobs on a NATS JetStream work queue, proved by warm workers anywhere.

    jobs    the job model and the statement hash (job id), results and timings — pure
    queue   the streams, consumers and results bucket on JetStream, and their settings
    worker  the worker loop (`zkrisk prover worker`)
    client  submit a batch, collect results, accept only proofs that verify (checks)

Priority rule: a worker takes every waiting `high` job (of the circuits it serves) before any
`normal` one; within a priority and circuit, in submission order. Clients use it through
`zkrisk.prover.backends.PoolBackend` (backend name "pool").
"""
