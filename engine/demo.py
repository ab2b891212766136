"""The end-to-end demo: a desk's private book behind a governed RiskVault on a local Anvil node.

Starts Anvil (or forks a chain), deploys a Safe 2-of-3 and a timelock that own the price book and
the vault, registers the desk's book attester through them, has the attester sign the desk's
book and the desk commit it with a proof, withdraws, and shows the attacks the vault refuses (a
forged and a replayed proof, a desk swapping in its own empty book, snapshot spam against a
healthy desk, a keeper's proof copied by another keeper); then crashes a price and lets the
keeper prove HF < 0.95 and liquidate, passes a policy change through Safe → timelock, and lets a
lender check the desk's VaR / limits attestation. Prints gas and proof time per step; leaves
nothing running. (Anvil's clock is moved past the timelock's delay.)
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
from .chain.anvil import DEV_GUARDIAN, DEV_OWNERS, DEV_PRIVATE_KEYS, anvil
from .chain.attestation import sign_attestation
from .chain.client import ChainClient, TransactionReverted
from .chain.governance import GovernanceError, calldata, deploy_governance
from .chain.safe_tx import SafeTxError
from .chain.uniswap_deploy import deploy_uniswap
from .chain.vault import VaultClient
from .chain.vault_deploy import VaultStack, advance_time, deploy_vault_stack
from .demo_fork import open_fork_stack, read_addresses
from .demo_trading import trading_act
from .expectation import load_expectation
from .files import load_assets, load_portfolio, load_prices, load_scenarios
from .keeper.devnet import OpenedDesk, open_desk, snapshot_now
from .keeper.factory import build_keeper
from .keeper.keeper import Keeper, KeeperSettings, Liquidation
from .keeper.logs import JsonLog
from .keeper.proving import prove_action
from .keeper.vault_access import handle_from_stack
from .paths import registry_path, repo_root
from .prove_params import ProveInputs, StatementKind, build_statement, load_params
from .risk.models import Asset, Portfolio, Position, PricePoint, PriceSnapshot, ScenarioSet
from .statements.binding import Action

CIRCUIT = "health4"
LENDER_CIRCUIT = "attest4x20"
TIMELOCK_DELAY = 3_600  # seconds; Anvil's clock is moved past it
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
    owner_keys = [DEV_PRIVATE_KEYS[i] for i in DEV_OWNERS]
    owners = [chain.with_key(k).account.address for k in owner_keys]
    guardian = chain.with_key(DEV_PRIVATE_KEYS[DEV_GUARDIAN]).account.address
    governance = deploy_governance(chain, owners=owners, threshold=2, min_delay=TIMELOCK_DELAY)
    stack = deploy_vault_stack(
        chain, artifacts, listed=scenario.listed_assets(), policy=scenario.POLICY,
        governance=governance, owner_keys=owner_keys[:2], guardian=guardian,
    )  # fmt: skip
    gas = sum(int(chain.w3.eth.get_block(n)["gasUsed"]) for n in range(first + 1, stack.block + 1))
    roles = [stack.vault.functions.DEFAULT_ADMIN_ROLE().call(),
             stack.vault.functions.RISK_ADMIN_ROLE().call(),
             stack.vault.functions.GUARDIAN_ROLE().call()]  # fmt: skip
    if any(stack.vault.functions.hasRole(r, chain.account.address).call() for r in roles):
        raise RuntimeError("the deployer kept a role")
    say(f"2. anvil on {url} (chain {chain.chain_id}): deployed PriceBook, {stack.verifier_name}, "
        f"RiskVault {stack.vault.address[:10]}… and mock USDC/WETH/WBTC + feeds; admin = a "
        f"TimelockController ({TIMELOCK_DELAY // 3600} h) proposed to by a Safe 2-of-3, a "
        f"guardian that can only pause; the deployer holds no role (gas {gas:,})")  # fmt: skip
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
    say(f"3. desk {desk.client.account[:10]}…: governance registers its book attester "
        f"{desk.attestation.attester[:10]}… (Safe 2-of-3 → timelock, {TIMELOCK_DELAY // 3600} h "
        f"later); private book {held}; deposits {_usd(scenario.DEPOSIT)} USDC margin "
        f"(gas {desk.deposit_gas:,})")  # fmt: skip
    commitment = desk.commit.action.statement.commitment()
    say(f"4. attester signs book #{desk.attestation.attestation.sequence} (EIP-712); desk "
        f"commits it: HF = {desk.commit.health_factor} ≥ {scenario.POLICY.min_health_bps / 10_000} "
        f"proven in {desk.commit.prove_seconds:.2f}s ({backend.name}); updateBook() gas "
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
        "snapshot, sender)"
    )
    _empty_book_swap(stack, desk, artifacts, backend, say)
    _snapshot_spam(stack, desk, say)
    return desk


def _empty_book_swap(
    stack: VaultStack,
    desk: OpenedDesk,
    artifacts: CircuitArtifacts,
    backend: ProvingBackend,
    say: Say,
) -> None:
    """The desk signs an empty book (HF = ∞) itself and tries to commit it."""
    from .keeper.books import BookFile
    from .risk.models import Portfolio

    empty = BookFile(salt=desk.book.salt, portfolio=Portfolio(account=desk.client.account))
    own = replace(desk.attestation.attestation, sequence=desk.attestation.attestation.sequence + 1,
                  commitment=_commitment(stack, empty), issued_at=desk.client.chain_time())  # fmt: skip
    signed = sign_attestation(own, desk.client.domain, desk.client.chain.account.key.hex())
    proven = prove_action(desk.client, empty, stack.assets, Action.UPDATE_COMMITMENT, artifacts,
                          backend, commitment=own.commitment)  # fmt: skip
    _rejected("the desk swaps in an empty book it signed itself (valid HF = ∞ proof)",
              lambda: desk.client.update_book(signed, proven.action.snapshot_id, proven.proof),
              say)  # fmt: skip


def _commitment(stack: VaultStack, book: object) -> int:
    from .keeper.books import BookFile
    from .statements.book_slots import book_slots

    assert isinstance(book, BookFile)
    symbols = [a.symbol for a in stack.assets]
    return book_slots(book.portfolio, symbols, slots=stack.client().slots(),
                      salt=book.salt).commitment()  # fmt: skip


def _snapshot_spam(stack: VaultStack, desk: OpenedDesk, say: Say) -> None:
    griefer = stack.client(stack.chain.with_key(DEV_PRIVATE_KEYS[3]))
    first = griefer.latest_snapshot_id()
    for _ in range(5):
        snapshot_now(griefer)
    _rejected(f"a griefer takes snapshots {first + 1}–{griefer.latest_snapshot_id()}, then "
              "liquidateStale() on the healthy desk",
              lambda: griefer.liquidate_stale(desk.client.account), say)  # fmt: skip
    say("   (staleness is measured in time since the last proof, not in snapshots)")


def _keeper_steps(
    stack: VaultStack, desk: OpenedDesk, backend: ProvingBackend, state: Path, say: Say
) -> Liquidation:
    handle = handle_from_stack(stack, stack.chain.with_key(DEV_PRIVATE_KEYS[2]))
    for symbol in ("WETH", "WBTC"):
        stack.set_price(symbol, scenario.CRASH[symbol])
    advance_time(stack.chain, 1)  # the price book allows one snapshot per second
    say(f"7. oracle: WETH {scenario.CALM['WETH']:,} → {scenario.CRASH['WETH']:,}, WBTC "
        f"{scenario.CALM['WBTC']:,} → {scenario.CRASH['WBTC']:,} (feeds updated, mined)")  # fmt: skip
    _stolen_proof(stack, handle.client, desk, say)
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
        moved = time.perf_counter()
        if not seen.wait(30):
            raise RuntimeError("the keeper did not liquidate within 30 s")
    finally:
        stop.set()
        runner.join(10)
        keeper.store.close()
    done = mined[0]
    (event,) = stack.vault.events.Liquidated().get_logs(
        from_block=done.block, to_block=done.block, argument_filters={"account": done.account}
    )
    args = event["args"]
    proof_s = f" proven in {done.prove_seconds:.2f}s" if done.prove_seconds is not None else ""
    say(f"8. keeper: snapshot {done.snapshot_id}, HF < {args['hfBelowBps'] / 10_000}{proof_s} at "
        f"margin escrow × 1.01, bound to the keeper; liquidate() gas {done.gas_used:,}; "
        f"{_usd(args['repay'])} USDC owed to the beneficiary, {_usd(args['bonus'])} bonus to the "
        f"keeper, {_usd(args['escrowLeft'])} left (HF < 0.95: the whole escrow) — oracle "
        f"update → liquidation mined in {(done.mined_at - moved) * 1000:.0f} ms")  # fmt: skip
    return done


def _stolen_proof(stack: VaultStack, keeper: VaultClient, desk: OpenedDesk, say: Say) -> None:
    """Another keeper copies the keeper's liquidation (as seen in the mempool) and sends it."""
    assert stack.artifacts is not None
    snapshot_now(keeper)
    with create_backend("best") as backend:
        proven = prove_action(keeper, desk.book, stack.assets, Action.LIQUIDATE, stack.artifacts,
                              backend)  # fmt: skip
    action = proven.action
    thief = stack.client(stack.chain.with_key(DEV_PRIVATE_KEYS[3]))
    _rejected("another keeper sends a copy of the keeper's liquidate() from the mempool",
              lambda: thief.liquidate(desk.client.account, action.snapshot_id,
                                      action.proven_margin, action.hf_below_bps, proven.proof,
                                      precheck=False), say)  # fmt: skip
    say("   (the proof binds its sender: a copy is useless to anyone but the keeper)")


def _governance_steps(stack: VaultStack, say: Say) -> None:
    """A policy change through Safe → timelock; the guardian can pause but not unpause."""
    gov = stack.governance
    assert gov is not None
    vault = stack.client()
    new = replace(vault.policy(), min_health_bps=11_000)
    target, data = str(stack.vault.address), calldata(vault.set_policy_call(new))
    try:
        gov.propose(target, data, stack.owner_keys[:1])
    except SafeTxError as exc:
        say(f"9. governance: one owner alone proposes minHealth 1.10: refused ({exc})")
    else:
        raise RuntimeError("a single owner passed a Safe transaction")
    op = gov.propose(target, data, stack.owner_keys)
    say(
        f"   2 of 3 owners sign: scheduled on the timelock ({gov.status(op)}); executing now: "
        + _refusal(lambda: gov.execute(target, data, stack.owner_keys))
    )
    advance_time(stack.chain, gov.min_delay + 1)
    stack.refresh_feeds()
    gov.execute(target, data, stack.owner_keys)
    say(
        f"   {gov.min_delay // 3600} h later: executed ({gov.status(op)}); the vault's minHealth "
        f"is now {vault.policy().min_health_bps / 10_000}"
    )
    guardian = stack.client(stack.chain.with_key(DEV_PRIVATE_KEYS[DEV_GUARDIAN]))
    guardian.pause()
    say(
        "   the guardian pauses the vault: ok; it unpauses: "
        + _refusal(guardian.unpause)
        + "; governance unpauses"
    )
    stack.govern(stack.vault, stack.vault.functions.unpause())


def _refusal(attempt: Callable[[], object]) -> str:
    try:
        attempt()
    except TransactionReverted as exc:
        return f"rejected ({exc.error})"
    except (GovernanceError, SafeTxError) as exc:
        return f"refused ({exc})"
    raise RuntimeError("the call was accepted")


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


def run_demo(
    say: Say = print,
    *,
    fork_url: str | None = None,
    addresses: Path | None = None,
    backend_name: str = "best",
) -> None:
    """The whole story on a fresh Anvil node (or a fork; with `addresses`, on the existing stack
    that file names on the forked chain); prints it; leaves nothing running."""
    say("zkrisk demo — private book → Groth16 proofs → RiskVault on Anvil")
    existing = None if addresses is None else read_addresses(addresses, fork_url)
    check_all()
    artifacts = _artifacts(say)
    with create_backend(backend_name) as backend, anvil(fork_url=fork_url) as node, \
            tempfile.TemporaryDirectory(prefix="zkrisk-demo-") as tmp:  # fmt: skip
        chain = ChainClient.connect(node.url, DEV_PRIVATE_KEYS[0])
        url = node.url + (f" forking {fork_url}" if fork_url else "")
        if existing is None:
            stack = _deploy(chain, artifacts, say, url)
            uniswap = deploy_uniswap(chain)  # the trading act's pools (mock tokens, same symbols)
        else:  # fork mode: the stack (and pools) the addresses file names, checked
            fork = open_fork_stack(chain, artifacts, existing, where=str(addresses), url=url,
                                   timelock_delay=TIMELOCK_DELAY)  # fmt: skip
            stack = fork.stack
            uniswap = fork.uniswap  # the file's pools, attached
            artifacts = stack.artifacts or artifacts  # the setup the vault's verifier pins
            for line in fork.story:
                say(line)
        desk = _desk_steps(stack, artifacts, backend, say)
        desk = trading_act(stack, desk, uniswap, backend, say, Path(tmp))
        _keeper_steps(stack, desk, backend, Path(tmp) / "keeper.sqlite", say)
        _governance_steps(stack, say)
        _lender_steps(backend, say)
    say("done: anvil and the keeper stopped, nothing left running.")
