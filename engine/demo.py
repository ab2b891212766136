"""The end-to-end demo: a desk's private book behind a RiskVault on a local Anvil node.

Starts Anvil (or forks a chain), deploys the price feeds, tokens and vault, opens a desk with a
private book, deposits, proves health to withdraw, moves a price down, lets the keeper prove
HF < 1 and liquidate, and shows a forged and a replayed proof being rejected, printing gas and
proof time per step; then a lender checks the desk's VaR / limits attestation against its own
expectation and refuses weaker ones. Leaves nothing running.
"""

from __future__ import annotations

import io
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from zkrisk.prover.artifacts import CircuitArtifacts, build
from zkrisk.prover.backends import ProvingBackend, create_backend
from zkrisk.prover.registry import get_circuit, load_registry
from zkrisk.prover.toolchain import check_all

from .attestation_bundle import AttestationBundle, make_bundle
from .attestation_verifier import verify_attestation
from .chain import dev_scenario as scenario
from .chain.anvil import DEV_PRIVATE_KEYS, anvil
from .chain.client import ChainClient, TransactionReverted
from .chain.vault_deploy import VaultStack, deploy_vault_stack
from .expectation import load_expectation
from .files import load_assets, load_portfolio, load_prices, load_scenarios
from .keeper.devnet import OpenedDesk, open_desk
from .keeper.factory import build_keeper
from .keeper.keeper import Keeper, KeeperSettings, Liquidation
from .keeper.logs import JsonLog
from .keeper.proving import prove_action
from .keeper.vault_access import handle_from_stack
from .models import Asset, Portfolio, Position, PricePoint, PriceSnapshot, ScenarioSet
from .paths import registry_path, repo_root
from .prove_params import ProveInputs, StatementKind, build_statement, load_params
from .statements.binding import Action

CIRCUIT = "health4"
LENDER_CIRCUIT = "attest4x20"
Say = Callable[[str], None]

#: The vault's assets in slot order (USDC margin, WETH, WBTC); the benchmarks use them too.
ASSETS: tuple[Asset, ...] = scenario.ASSETS


def demo_book(account: str) -> Portfolio:
    """A book with margin, for off-chain Health proofs (benchmarks)."""
    return Portfolio(
        account=account,
        positions=(
            Position(symbol="WBTC", quantity=Decimal("1.5")),
            Position(symbol="WETH", quantity=Decimal("-12")),  # borrowed ETH: debt
            Position(symbol="USDC", quantity=Decimal("20000")),
        ),
        margin=Decimal("5000"),
        margin_symbol="USDC",
    )


def demo_snapshot(now: int) -> PriceSnapshot:
    prices = {"USDC": "1.0001", "WETH": "3012.55", "WBTC": "61250.5"}
    return PriceSnapshot(
        prices={
            s: PricePoint(price=Decimal(p), timestamp=now, round_id=1) for s, p in prices.items()
        },
        snapshot_id=1,
        taken_at=now,
    )


def _usd(units: int, decimals: int = 6) -> str:
    return f"{Decimal(units) / 10**decimals:,.0f}"


def _artifacts(say: Say) -> CircuitArtifacts:
    started = time.perf_counter()
    artifacts = build(
        get_circuit(load_registry(registry_path()), CIRCUIT),
        repo_root(),
        log=lambda s: say("   " + s),
    )
    meta = artifacts.meta
    insecure = " — DEV ptau, INSECURE: not for real funds" if artifacts.dev_ptau else ""
    say(f"1. circuit {CIRCUIT}: {meta['constraints']:,} constraints, ptau power "
        f"{meta['ptau']['power']} ({meta['ptau']['source']}){insecure} "
        f"[{time.perf_counter() - started:.1f}s]")  # fmt: skip
    return artifacts


def _deploy(chain: ChainClient, artifacts: CircuitArtifacts, say: Say, url: str) -> VaultStack:
    first = int(chain.w3.eth.block_number)
    stack = deploy_vault_stack(
        chain, artifacts, listed=scenario.listed_assets(), policy=scenario.POLICY,
        price_book_max_age=scenario.PRICE_BOOK_MAX_AGE,
    )  # fmt: skip
    gas = sum(int(chain.w3.eth.get_block(n)["gasUsed"]) for n in range(first + 1, stack.block + 1))
    say(f"2. anvil on {url} (chain {chain.chain_id}): deployed PriceBook, {stack.verifier_name}, "
        f"RiskVault {stack.vault.address[:10]}… and mock USDC/WETH/WBTC + feeds "
        f"(gas {gas:,})")  # fmt: skip
    return stack


def _rejected(label: str, attempt: Callable[[], object], say: Say) -> None:
    try:
        attempt()
    except TransactionReverted as exc:
        say(f"   {label}: rejected on-chain ({exc.error})")
    else:
        raise RuntimeError(f"{label} was accepted on-chain")


def _desk_steps(
    stack: VaultStack, artifacts: CircuitArtifacts, backend: ProvingBackend, say: Say
) -> OpenedDesk:
    desk = open_desk(stack, artifacts, backend, portfolio=scenario.book(stack.chain.account.address),
                     deposit=scenario.DEPOSIT, key=DEV_PRIVATE_KEYS[1])  # fmt: skip
    book = desk.book.portfolio
    held = ", ".join(f"{p.quantity:+} {p.symbol}" for p in book.positions)
    say(f"3. desk {desk.client.account[:10]}…: private book {held}; deposits "
        f"{_usd(scenario.DEPOSIT)} USDC margin (gas {desk.deposit_gas:,})")  # fmt: skip
    commitment = desk.commit.action.statement.commitment()
    say(f"4. commit: HF = {desk.commit.health_factor} ≥ {scenario.POLICY.min_health_bps / 10_000} "
        f"proven in {desk.commit.prove_seconds:.2f}s ({backend.name}); commit() gas "
        f"{desk.commit_gas:,} — on-chain only the commitment {f'{commitment:#x}'[:18]}…")  # fmt: skip
    withdrawal = prove_action(desk.client, desk.book, stack.assets, Action.WITHDRAW, artifacts,
                              backend, amount=scenario.WITHDRAW)  # fmt: skip
    receipt = desk.client.withdraw(scenario.WITHDRAW, withdrawal.action.snapshot_id,
                                   withdrawal.proof)  # fmt: skip
    say(f"5. withdraw {_usd(scenario.WITHDRAW)} USDC: HF after = {withdrawal.health_factor} ≥ "
        f"{scenario.POLICY.min_health_bps / 10_000} proven in {withdrawal.prove_seconds:.2f}s; "
        f"withdraw() gas {receipt['gasUsed']:,}")  # fmt: skip
    snapshot_id, proof = withdrawal.action.snapshot_id, withdrawal.proof
    forged = replace(proof, c=proof.a)
    say("6. attacks on the gate:")
    _rejected("a forged proof (C replaced)",
              lambda: desk.client.withdraw(scenario.WITHDRAW, snapshot_id, forged, precheck=False),
              say)  # fmt: skip
    _rejected("the same withdrawal proof replayed",
              lambda: desk.client.withdraw(scenario.WITHDRAW, snapshot_id, proof, precheck=False),
              say)  # fmt: skip
    say(
        "   (the nonce moved on: proofs bind chain, vault, account, action, amount, nonce, "
        "snapshot)"
    )
    return desk


def _keeper_steps(
    stack: VaultStack, desk: OpenedDesk, backend: ProvingBackend, state: Path, say: Say
) -> Liquidation:
    handle = handle_from_stack(stack, stack.chain.with_key(DEV_PRIVATE_KEYS[2]))
    keeper: Keeper = build_keeper(handle, [desk.book], stack.assets, backend, state,
                                  settings=KeeperSettings(poll_interval=0.02),
                                  log=JsonLog(io.StringIO()))  # fmt: skip
    mined: list[Liquidation] = []
    seen = threading.Event()

    def record(liquidation: Liquidation) -> None:
        mined.append(liquidation)
        seen.set()

    keeper.on_liquidation = record
    stop = threading.Event()
    runner = threading.Thread(target=keeper.run, args=(stop,), name="keeper", daemon=True)
    runner.start()
    try:
        escrow_before = desk.client.escrow()
        for symbol in ("WETH", "WBTC"):
            stack.set_price(symbol, scenario.CRASH[symbol])
        moved = time.perf_counter()
        say(f"7. oracle: WETH {scenario.CALM['WETH']:,} → {scenario.CRASH['WETH']:,}, WBTC "
            f"{scenario.CALM['WBTC']:,} → {scenario.CRASH['WBTC']:,} (feeds updated, mined)")  # fmt: skip
        if not seen.wait(30):
            raise RuntimeError("the keeper did not liquidate within 30 s")
    finally:
        stop.set()
        runner.join(10)
        keeper.store.close()
    done = mined[0]
    escrow_after = desk.client.escrow()
    repaid = (escrow_before * scenario.POLICY.close_factor_bps) // 10_000
    bonus = (repaid * scenario.POLICY.liquidation_bonus_bps) // 10_000
    proof_s = f"proven in {done.prove_seconds:.2f}s, " if done.prove_seconds is not None else ""
    say(f"8. keeper: snapshot {done.snapshot_id}, HF < 1 {proof_s}liquidate() gas "
        f"{done.gas_used:,}; {_usd(repaid)} USDC to the beneficiary, {_usd(bonus)} bonus to the "
        f"keeper, {_usd(escrow_after)} left — oracle update → liquidation mined in "
        f"{(done.mined_at - moved) * 1000:.0f} ms")  # fmt: skip
    return done


def _second_keeper(
    stack: VaultStack,
    desk: OpenedDesk,
    artifacts: CircuitArtifacts,
    backend: ProvingBackend,
    done: Liquidation,
    say: Say,
) -> None:
    other = handle_from_stack(stack, stack.chain.with_key(DEV_PRIVATE_KEYS[3])).client
    proven = prove_action(other, desk.book, stack.assets, Action.LIQUIDATE, artifacts, backend)
    say(f"9. a second keeper proves HF = {proven.health_factor} < 1 again at snapshot "
        f"{proven.action.snapshot_id} and tries to liquidate at once:")  # fmt: skip
    _rejected("its liquidate()",
              lambda: other.liquidate(desk.client.account, proven.action.snapshot_id,
                                      proven.proof),
              say)  # fmt: skip
    del done
    say("   (one liquidation per account per cooldown: the desk gets time to re-prove)")


def _lender_steps(backend: ProvingBackend, say: Say) -> None:
    """A lender checks the desk's VaR / limits attestation against its own expectation."""
    examples = repo_root() / "examples"
    spec = get_circuit(load_registry(registry_path()), LENDER_CIRCUIT)
    artifacts = build(spec, repo_root(), log=lambda s: say("   " + s))
    expectation = load_expectation(examples / "expect-attest.toml")
    honest = ProveInputs(
        book=load_portfolio(examples / "portfolio.toml"),
        snapshot=load_prices(examples / "prices.toml"),
        assets=load_assets(examples / "assets.toml"),
        params=load_params(str(examples / "params.toml")),
        scenarios=load_scenarios(examples / "scenarios20.csv"),
        salt=0x5EED,
    )

    def bundle(inputs: ProveInputs) -> tuple[AttestationBundle, float]:
        statement = build_statement(StatementKind.ATTEST, spec, inputs)
        started = time.perf_counter()
        proof = backend.prove(artifacts, statement.signals())
        seconds = time.perf_counter() - started
        return make_bundle(StatementKind.ATTEST, inputs, statement, artifacts, proof), seconds

    made, seconds = bundle(honest)
    result = verify_attestation(made, expectation)
    verdict = "ACCEPTED" if result.accepted else f"REFUSED ({'; '.join(result.reasons())})"
    say(f"10. lender: verifies the desk's VaR / limits attestation ({LENDER_CIRCUIT}, proven in "
        f"{seconds:.2f}s) against its own limits, prices, scenarios and known commitment: "
        f"{verdict} ({result.seconds:.2f}s)")  # fmt: skip
    limits = honest.params.limits
    assert limits is not None
    others = [
        ("a valid proof under the desk's own 10x leverage limit",
         replace(honest, params=honest.params.model_copy(
             update={"limits": limits.model_copy(update={"leverage_bps": 100_000})}))),
        ("a valid proof of another book (another commitment)", replace(honest, salt=0x5EEE)),
        ("a valid proof over another scenario set",
         replace(honest, scenarios=_other_days(examples))),
    ]  # fmt: skip
    for label, inputs in others:
        refused = verify_attestation(bundle(inputs)[0], expectation)
        if refused.accepted:
            raise RuntimeError(f"{label} was accepted by the lender")
        say(f"   {label}: REFUSED — {', '.join(refused.fields)}")


def _other_days(examples: Path) -> ScenarioSet:
    """Scenarios 20–39 of the example set: 20 other days than the lender's."""
    full = load_scenarios(examples / "scenarios.csv")
    return ScenarioSet(symbols=full.symbols, returns=full.returns[20:40])


def run_demo(say: Say = print, *, fork_url: str | None = None, backend_name: str = "best") -> None:
    """The whole story on a fresh Anvil node (or a fork); prints it; leaves nothing running."""
    say("zkrisk demo — private book → Groth16 proofs → RiskVault on Anvil")
    check_all()
    artifacts = _artifacts(say)
    with create_backend(backend_name) as backend, anvil(fork_url=fork_url) as node, \
            tempfile.TemporaryDirectory(prefix="zkrisk-demo-") as tmp:  # fmt: skip
        chain = ChainClient.connect(node.url, DEV_PRIVATE_KEYS[0])
        url = node.url + (f" forking {fork_url}" if fork_url else "")
        stack = _deploy(chain, artifacts, say, url)
        desk = _desk_steps(stack, artifacts, backend, say)
        done = _keeper_steps(stack, desk, backend, Path(tmp) / "keeper.sqlite", say)
        _second_keeper(stack, desk, artifacts, backend, done, say)
        _lender_steps(backend, say)
    say("done: anvil and the keeper stopped, nothing left running.")
