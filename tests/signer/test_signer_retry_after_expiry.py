"""A retry of a request the signer already signed is answered from its record even after the
approval expired (a runner restarted late resumes its queued request: the same bytes, nothing
new signed); anything else under an expired approval is still refused. In-process, fake venue."""

from __future__ import annotations

import time
from pathlib import Path

from zkrisk.engine.signer.checks import Refusal, SignRequest
from zkrisk.engine.signer.halt import HaltSource
from zkrisk.engine.signer.policy import load_signer_policy
from zkrisk.engine.signer.server import SignedTransaction, Signer

from .support import (
    FAKE_VENUE,
    TRADER,
    TRADER_KEY,
    approve,
    request,
    swap_data,
    transaction,
    write_setup,
)


def test_an_exact_retry_after_the_approval_expired_gets_the_same_signature_and_nothing_else_does(
    tmp_path: Path,
) -> None:
    config, _, _ = write_setup(tmp_path, FAKE_VENUE)
    policy, venue = load_signer_policy(config)
    now = [time.time()]
    keys = {TRADER.lower(): bytes.fromhex(TRADER_KEY[2:])}
    signer = Signer(policy, venue, keys, HaltSource(policy.halt_file, None), clock=lambda: now[0])
    try:
        data = swap_data(venue)
        approval = approve(venue, data, nonce=1, expiry=int(now[0]) + 60)
        first = signer.sign(SignRequest.model_validate(request(approval, transaction(venue, data))))
        assert isinstance(first, SignedTransaction) and not first.replayed

        now[0] += 120  # the approval expired a minute ago
        again = signer.sign(SignRequest.model_validate(request(approval, transaction(venue, data))))
        assert isinstance(again, SignedTransaction)
        assert (again.tx_hash, again.raw_transaction, again.replayed) == (
            first.tx_hash, first.raw_transaction, True
        )  # fmt: skip

        bumped = transaction(venue, data, maxFeePerGas=20 * 10**9)  # a replacement: new bytes
        refused = signer.sign(SignRequest.model_validate(request(approval, bumped)))
        assert isinstance(refused, Refusal) and refused.code == "EXPIRED"

        fresh = approve(venue, data, nonce=2, expiry=int(now[0]) - 1)  # never signed
        refused = signer.sign(SignRequest.model_validate(request(fresh, transaction(venue, data))))
        assert isinstance(refused, Refusal) and refused.code == "EXPIRED"

        (tmp_path / "HALTED").touch()  # HALTED still comes first, retry or not
        halted = signer.sign(
            SignRequest.model_validate(request(approval, transaction(venue, data)))
        )
        assert isinstance(halted, Refusal) and halted.code == "HALTED"
    finally:
        signer.close()
