"""`zkrisk demo` end to end on its own Anvil node: the narrative's key lines, nothing left running."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from zkrisk.engine import demo
from zkrisk.engine.chain import anvil as anvil_module
from zkrisk.engine.cli.main import app


@pytest.fixture(scope="module")
def narrative() -> list[str]:
    started: list[anvil_module.AnvilNode] = []
    real = anvil_module.start_anvil

    def tracked(**kwargs: object) -> anvil_module.AnvilNode:
        node = real(**kwargs)  # type: ignore[arg-type]
        started.append(node)
        return node

    lines: list[str] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(anvil_module, "start_anvil", tracked)
        demo.run_demo(lines.append)
    assert len(started) == 1 and started[0].process.poll() is not None  # anvil was stopped
    return lines


def line(lines: list[str], prefix: str) -> str:
    (found,) = [entry for entry in lines if entry.lstrip().startswith(prefix)]
    return found


def test_demo_says_the_ptau_is_a_dev_one_and_deploys_the_vault(narrative: list[str]) -> None:
    assert "DEV ptau, INSECURE" in line(narrative, "1. circuit health4")
    deployed = line(narrative, "2. anvil")
    assert re.search(r"RiskVault 0x[0-9a-fA-F]{8}… .* \(gas [\d,]+\)", deployed)
    assert "proposed to by a Safe 2-of-3" in deployed and "the deployer holds no role" in deployed


def test_demo_attester_signs_and_desk_commits_and_withdraws_with_proofs_and_gas(
    narrative: list[str],
) -> None:
    assert "governance registers its book attester" in line(narrative, "3. desk")
    assert re.search(r"HF = 2\.4500 ≥ 1\.05 proven in \d+\.\d\ds .* updateBook\(\) gas [\d,]+",
                     line(narrative, "4. attester signs book #1"))  # fmt: skip
    assert re.search(r"HF after = 2\.2000 ≥ 1\.05 proven in .* withdraw\(\) gas [\d,]+",
                     line(narrative, "5. withdraw 10,000 USDC"))  # fmt: skip


def test_demo_shows_forged_and_replayed_proofs_rejected(narrative: list[str]) -> None:
    assert line(narrative, "a forged proof").endswith("rejected on-chain (RiskVault__InvalidProof)")
    assert line(narrative, "the same withdrawal proof replayed").endswith(
        "rejected on-chain (RiskVault__InvalidProof)"
    )


def test_demo_shows_the_empty_book_swap_and_snapshot_spam_refused(narrative: list[str]) -> None:
    assert line(narrative, "the desk swaps in an empty book").endswith(
        "rejected on-chain (RiskVault__InvalidAttestationSignature)"
    )
    assert line(narrative, "a griefer takes snapshots").endswith(
        "rejected on-chain (RiskVault__ProofNotStale)"
    )


def test_demo_trading_act_swaps_reconciles_and_commits_the_attested_book(
    narrative: list[str],
) -> None:
    assert "mock tokens with the vault's listed symbols and decimals" in line(
        narrative, "6a. trading act: Uniswap v2"
    )
    assert "turns up on the tape → BUY 1 WETH; pre-trade gate: APPROVE" in line(narrative, "6b.")
    assert re.search(r"swap tx 0x[0-9a-f]{10}… mined \(gas [\d,]+\); its Swap log is the fill: "
                     r"1 WETH at 3,018\.08 USDC, gas fee 0\.\d+ ETH", line(narrative, "6c."))  # fmt: skip
    assert re.search(r"position from the fills: \+1 WETH .* since the run began \(\+1 WETH\): "
                     r"Reconciled, journal position \d+", line(narrative, "6d."))  # fmt: skip
    committed = line(narrative, "6e.")
    assert ("the desk's +1.5 WBTC, -12 WETH plus the run's -3018.081326 USDC, +1 WETH (the quote "
            "leg: the fills' cash) = -3018.081326 USDC, +1.5 WBTC, -11 WETH") in committed  # fmt: skip
    assert re.search(r"attester signs book #2 \(EIP-712\); desk commits it: HF = 2\.1989 proven "
                     r"in \d+\.\d\ds; updateBook\(\) gas [\d,]+; the vault's commitment "
                     r"0x[0-9a-f]{16}… = the book's Poseidon commitment", committed)  # fmt: skip


def test_demo_keeper_liquidates_after_the_price_move(narrative: list[str]) -> None:
    assert line(narrative, "another keeper sends a copy").endswith(
        "rejected on-chain (RiskVault__InvalidProof)"
    )
    keeper = line(narrative, "8. keeper")
    assert re.search(r"HF < 0\.95 proven in \d+\.\d\ds at margin escrow × 1\.01", keeper)
    assert re.search(r"liquidate\(\) gas [\d,]+", keeper)
    assert "9,524 USDC owed to the beneficiary, 476 bonus to the keeper, 0 left" in keeper
    latency = int(re.search(r"liquidation mined in (\d+) ms", keeper).group(1))  # type: ignore[union-attr]
    assert 0 < latency < 5_000
    assert narrative[-1] == "done: anvil and the keeper stopped, nothing left running."


def test_demo_policy_change_goes_through_the_safe_and_the_timelock(narrative: list[str]) -> None:
    assert "refused (1 owner signature(s), the Safe needs 2" in line(narrative, "9. governance")
    assert "not Ready: wait until its delay has passed" in line(narrative, "2 of 3 owners sign")
    assert line(narrative, "1 h later: executed (Done)").endswith("minHealth is now 1.1")
    assert "it unpauses: rejected (AccessControlUnauthorizedAccount)" in line(
        narrative, "the guardian pauses"
    )


def test_demo_lender_accepts_the_attestation_and_refuses_weaker_ones(
    narrative: list[str],
) -> None:
    assert "its own limits, prices, scenarios and known commitment: ACCEPTED" in line(
        narrative, "10. lender"
    )
    assert line(narrative, "a valid proof under the desk's own 10x leverage").endswith(
        "REFUSED — limits.leverage_bps"
    )
    assert line(narrative, "a valid proof of another book").endswith("REFUSED — commitment")
    assert line(narrative, "a valid proof over another scenario set").endswith(
        "REFUSED — scenarios"
    )


def test_demo_command_with_an_unknown_backend_exits_2() -> None:
    result = CliRunner().invoke(app, ["demo", "--backend", "gpu"])
    assert result.exit_code == 2
    assert "unknown prover backend 'gpu'" in result.stderr
