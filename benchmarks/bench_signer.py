"""Transaction signer: p99 of one `Signer.sign` (halt check, approval check, rate count, nonce
claim committed to SQLite, EIP-1559 signature), beside a bare eth-account signature of the same
transaction in the same run (what signing alone costs the usual way). In-process: the loopback
HTTP hop is not counted."""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from eth_account import Account

from tests.signer.support import (
    FAKE_VENUE,
    TRADER,
    TRADER_KEY,
    approve,
    request,
    swap_data,
    transaction,
    write_setup,
)
from zkrisk.engine.signer.checks import SignRequest
from zkrisk.engine.signer.halt import HaltSource
from zkrisk.engine.signer.policy import load_signer_policy
from zkrisk.engine.signer.server import SignedTransaction, Signer

from .common import Metric, metric

RUNS = 2_000


def _p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return round(ordered[int(len(ordered) * 0.99)], 3)


def run() -> dict[str, Metric]:
    with tempfile.TemporaryDirectory() as tmp:
        config, _, _ = write_setup(Path(tmp), FAKE_VENUE, rate_limit_count=10**9)
        policy, venue = load_signer_policy(config)
        signer = Signer(policy, venue, {TRADER.lower(): bytes.fromhex(TRADER_KEY[2:])},
                        HaltSource(policy.halt_file, None))  # fmt: skip
        data = swap_data(FAKE_VENUE)
        requests = [SignRequest.model_validate(request(approve(FAKE_VENUE, data, nonce=n),
                    transaction(FAKE_VENUE, data, nonce=n))) for n in range(RUNS)]  # fmt: skip
        signed, bare, account = [], [], Account.from_key(TRADER_KEY)
        for r in requests:
            start = time.perf_counter()
            outcome = signer.sign(r)
            signed.append((time.perf_counter() - start) * 1000)
            assert isinstance(outcome, SignedTransaction), outcome
            tx = r.transaction.for_signing()
            start = time.perf_counter()
            account.sign_transaction(tx)
            bare.append((time.perf_counter() - start) * 1000)
        signer.close()
    load = os.getloadavg()[0]
    return {
        "signer_sign_p99_ms": metric(_p99(signed), "ms", RUNS, "Signer.sign in-process: HALTED "
            "(halt file), approval check (EIP-712 recover, domain, expiry, wallet, venue, chain, "
            "target, value, calldata hash, router calldata decoded against the order, gas), rate "
            "count and nonce claim committed to SQLite (WAL), EIP-1559 signature (libsecp256k1); "
            f"median {statistics.median(signed):.3f} ms; 1-min load average {load:.1f} on "
            f"{os.cpu_count()} cores; target <= 5 ms"),
        "signer_bare_sign_p99_ms": metric(_p99(bare), "ms", RUNS, "baseline in the same run: a "
            "bare eth-account sign_transaction (LocalAccount) of the same EIP-1559 transactions; "
            f"median {statistics.median(bare):.3f} ms"),
    }  # fmt: skip
