"""`zkrisk chain …`: deploy a vault stack and use it from the command line, against any RPC URL.

The signer is --private-key (or $ZKRISK_PRIVATE_KEY), or --dev-account N for Anvil's well-known
dev keys, or --signer URL: the signer process (`zkrisk signer serve`), which holds the key and
signs only what a `[[calls]]` rule of its policy covers (deploy, set-price, advance-time and
govern are dev-chain set-up and administration: local keys only). Deployments are recorded per
chain id in build/deployments/<chainId>.json (or --deployments DIR); every other command finds
the vault there, and proves with exactly the setup (zkey) the record pins — or refuses, saying
how to restore it.

Exit codes: 0 done, 1 the chain refused (a revert, a statement that does not hold), 2 bad input
(a missing file, no deployment for this chain, an unreachable RPC URL).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from zkrisk.prover.backend_names import CHOICES

from ..anvil_keys import DEV_PRIVATE_KEYS
from . import govern as cli_govern
from .common import EXIT_FAILED, bad_input, fail
from .help import FullHelpGroup

# web3, the chain layer and the prover load in the commands that use them: `zkrisk --help`
# and every other command would pay for them otherwise (tests/cli/test_cli_startup.py).
if TYPE_CHECKING:
    from zkrisk.prover.artifacts import CircuitArtifacts

    from ..chain.attestation import SignedAttestation
    from ..chain.client import ChainClient
    from ..keeper.vault_access import VaultHandle
    from ..statements.binding import Action

chain_app = typer.Typer(
    help="Deploy a RiskVault stack; commit attested books, withdraw, liquidate, govern, inspect. "
    "The commands that send a desk's or keeper's transactions take --signer URL (the signer "
    "process holds the key); deploy, set-price, advance-time and govern use local keys.",
    no_args_is_help=True,
    rich_markup_mode=None,  # plain help: rich markup would eat words in brackets
    cls=FullHelpGroup,
)

RpcUrl = Annotated[
    str, typer.Option("--rpc-url", envvar="ZKRISK_RPC_URL", help="JSON-RPC endpoint.")
]
PrivateKey = Annotated[
    str | None,
    typer.Option(envvar="ZKRISK_PRIVATE_KEY", help="Signer key (hex).", show_default=False),
]
DevAccount = Annotated[
    int | None,
    typer.Option(help="Sign with Anvil's dev key N (0-9) instead of --private-key.", min=0,
                 max=len(DEV_PRIVATE_KEYS) - 1),
]  # fmt: skip
Deployments = Annotated[
    Path | None,
    typer.Option(help="Folder of deployment records (default: build/deployments).",
                 file_okay=False),
]  # fmt: skip
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
BookOpt = Annotated[
    Path, typer.Option("--book", help="Book file: salt + [portfolio].", dir_okay=False)
]
AssetsOpt = Annotated[
    Path, typer.Option(help="Assets file (lending parameters of the listed assets).",
                       dir_okay=False),
]  # fmt: skip
Backend = Annotated[str, typer.Option(help=f"Prover backend: {', '.join(CHOICES)}.")]
SignerUrl = Annotated[
    str | None,
    typer.Option("--signer", show_default=False,
                 help="Sign through the signer process at this URL (`zkrisk signer serve`) "
                 "instead of a local key: its [[calls]] rules must cover each transaction."),
]  # fmt: skip
SignerTokenEnv = Annotated[
    str, typer.Option(help="Environment variable holding the signer's bearer token.")
]
SignerWallet = Annotated[
    str | None,
    typer.Option(show_default=False,
                 help="The wallet --signer signs as (default: the signer's only one)."),
]  # fmt: skip
DEFAULT_TOKEN_ENV = "ZKRISK_SIGNER_TOKEN"


@dataclass(frozen=True)
class SignerChoice:
    """--signer URL, --signer-token-env NAME and --signer-wallet ADDRESS."""

    url: str
    token_env: str = DEFAULT_TOKEN_ENV
    wallet: str | None = None


def signer_choice(url: str | None, token_env: str, wallet: str | None) -> SignerChoice | None:
    if url is None:
        if wallet is not None:
            raise ValueError("--signer-wallet needs --signer URL")
        return None
    return SignerChoice(url, token_env, wallet)


def _connect(rpc_url: str, private_key: str | None, dev_account: int | None,
             signer: SignerChoice | None = None) -> ChainClient:  # fmt: skip
    from ..chain.client import ChainClient

    if signer is not None:
        return _connect_signer(rpc_url, private_key, dev_account, signer)
    if (private_key is None) == (dev_account is None):
        raise ValueError(
            "give exactly one of --private-key ($ZKRISK_PRIVATE_KEY) and --dev-account"
        )
    key = private_key if private_key is not None else DEV_PRIVATE_KEYS[dev_account or 0]
    try:
        return ChainClient.connect(rpc_url, key)
    except ConnectionError as exc:
        raise ValueError(str(exc)) from None
    except (ValueError, TypeError) as exc:  # a malformed key
        raise ValueError(f"--private-key: not a valid key ({exc})") from None


def _connect_signer(rpc_url: str, private_key: str | None, dev_account: int | None,
                    signer: SignerChoice) -> ChainClient:  # fmt: skip
    from ..chain.client import ChainClient
    from ..chain.remote_signer import connect_signer

    if private_key is not None or dev_account is not None:
        raise ValueError("--signer and --private-key / --dev-account exclude each other: the "
                         "key is the signer's (unset $ZKRISK_PRIVATE_KEY if it is set)")  # fmt: skip
    remote = connect_signer(signer.url, signer.token_env, signer.wallet)
    try:
        return ChainClient.connect_signer(rpc_url, remote)
    except ConnectionError as exc:
        raise ValueError(str(exc)) from None


def open_handle(
    rpc_url: str,
    private_key: str | None,
    dev_account: int | None,
    folder: Path | None,
    signer: SignerChoice | None = None,
) -> VaultHandle:
    from ..keeper.vault_access import open_vault

    chain = _connect(rpc_url, private_key, dev_account, signer)
    try:
        return open_vault(chain, folder)
    except FileNotFoundError as exc:
        raise ValueError(str(exc)) from None


def _emit(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(data, indent=2, default=str))
        return
    for key, value in data.items():
        typer.echo(f"{key}: {value}")


@contextmanager
def _refused() -> Iterator[None]:
    """Reverts, statements that do not hold and mismatched proofs: exit 1 with the reason."""
    from zkrisk.prover.errors import BackendUnavailable

    from ..chain.client import LocalKeyNeeded, TransactionReverted
    from ..chain.remote_signer import SignerRefused, SignerUnavailable
    from ..chain.vault import ProofMismatch
    from ..chain.vault_statement import StatementDoesNotHold

    try:
        yield
    except (TransactionReverted, SignerRefused) as exc:
        fail([str(exc)], EXIT_FAILED)
    except (SignerUnavailable, LocalKeyNeeded) as exc:
        fail([str(exc)])
    except (StatementDoesNotHold, ProofMismatch) as exc:
        fail([str(exc)], EXIT_FAILED)
    except (BackendUnavailable, ValueError) as exc:
        fail([str(exc)])


def _token_units(amount: str, decimals: int) -> int:
    try:
        value = Decimal(amount) * 10**decimals
    except InvalidOperation:
        raise ValueError(f"amount {amount!r} is not a decimal number") from None
    if value <= 0 or value != value.to_integral_value():
        raise ValueError(f"amount {amount} must be positive with at most {decimals} decimals")
    return int(value)


def _tx(receipt: Any) -> dict[str, Any]:
    return {"tx": "0x" + bytes(receipt["transactionHash"]).hex(), "block": receipt["blockNumber"],
            "gas": receipt["gasUsed"]}  # fmt: skip


@chain_app.command()
def deploy(
    rpc_url: RpcUrl,
    private_key: PrivateKey = None,
    dev_account: DevAccount = None,
    deployments: Deployments = None,
    circuit: Annotated[str, typer.Option(help="Health circuit of the verifier.")] = "health4",
    ptau: Annotated[
        Path | None,
        typer.Option(
            help="Set the circuit up from this ptau (default: the search order of `zkrisk setup`).",
            dir_okay=False,
        ),
    ] = None,
    owners: Annotated[
        str | None,
        typer.Option(
            help="Safe owners, comma-separated: deploy a Safe 1.4.1 and a timelock that own every "
            "admin role (default: the deployer is the admin — dev only)."
        ),
    ] = None,
    threshold: Annotated[
        int, typer.Option(help="Owner signatures a Safe transaction needs.", min=1)
    ] = 2,
    delay: Annotated[
        int, typer.Option(help="The timelock's minimum delay, seconds.", min=0)
    ] = 86_400,
    guardian: Annotated[
        str | None,
        typer.Option(
            help="The key that may pause (and only pause) the vault (default: the deployer)."
        ),
    ] = None,
    attester: Annotated[
        str | None,
        typer.Option(
            help="Default book attester (recorded; `chain govern propose set-attester` uses it).",
        ),
    ] = None,
    uniswap: Annotated[
        bool,
        typer.Option(
            "--uniswap",
            help="Also deploy Uniswap v2 (factory, router, pools of the mock tokens at the "
            "scenario's prices); the vault lists the pools' tokens.",
        ),
    ] = False,
    addresses_out: Annotated[
        Path | None,
        typer.Option(
            help="Write the whole stack's addresses (tokens, feeds, Uniswap, the vault) to this "
            "JSON file, for `zkrisk demo --fork-url URL --addresses FILE` (needs --uniswap).",
            dir_okay=False,
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Deploy PriceBook, the Health verifier and RiskVault with mock tokens and feeds, optionally behind a Safe and a timelock.

    The dev scenario's assets (USDC margin, WETH, WBTC) as MockERC20 / MockAggregator; the deployment is recorded per chain id and pins the setup (zkey and verification key hashes): every later proof for it uses exactly that zkey. With --owners, a Safe (SafeL2 1.4.1 behind SafeProxyFactory, CompatibilityFallbackHandler) proposes to an OpenZeppelin TimelockController (--delay) that is the admin of the price book and the vault; the deployer keeps no role. With --uniswap, Uniswap v2 pools of the mock tokens come too, and --addresses-out FILE writes the whole stack's addresses for `zkrisk demo --fork-url URL --addresses FILE`. Dev-chain set-up: local keys only (no --signer).
    """  # fmt: skip
    from web3 import Web3

    from ..chain import dev_scenario
    from ..chain.deployments import save_deployment
    from ..chain.governance import deploy_governance
    from ..chain.stack_addresses import StackAddresses, save_stack_addresses
    from ..chain.uniswap_deploy import deploy_uniswap
    from ..chain.vault_deploy import deploy_vault_stack

    with bad_input():
        if addresses_out is not None and not uniswap:
            raise ValueError("--addresses-out writes the stack's Uniswap pools too: add --uniswap")
        chain = _connect(rpc_url, private_key, dev_account)
        owner_list = _addresses("--owners", owners) if owners is not None else None
        for name, value in (("--guardian", guardian), ("--attester", attester)):
            if value is not None and not Web3.is_address(value):
                raise ValueError(f"{name} {value!r} is not an address (0x + 40 hex digits)")
        if owner_list is not None and not 1 <= threshold <= len(owner_list):
            raise ValueError(
                f"--threshold {threshold}: must be between 1 and the {len(owner_list)} owner(s)"
            )
        artifacts = _setup_for_deploy(circuit, ptau)
    folder = deployments
    with _refused():
        governance = None
        if owner_list is not None:
            governance = deploy_governance(chain, owners=owner_list, threshold=threshold,
                                           min_delay=delay)  # fmt: skip
        listed = dev_scenario.listed_assets()
        pools = deploy_uniswap(chain) if uniswap else None
        if pools is not None:  # the vault lists the pools' tokens
            listed = tuple(replace(a, token=str(pools.tokens[a.asset.symbol].address))
                           for a in listed)  # fmt: skip
        stack = deploy_vault_stack(
            chain, artifacts, listed=listed, policy=dev_scenario.POLICY,
            governance=governance, guardian=guardian and Web3.to_checksum_address(guardian),
        )  # fmt: skip
    record = stack.record()
    if attester is not None:
        record = record.model_copy(update={"attester": Web3.to_checksum_address(attester)})
    save_deployment(record, folder or _default_folder())
    extra: dict[str, Any] = {}
    if pools is not None:
        extra["uniswap_router"] = pools.addresses.router
    if pools is not None and addresses_out is not None:
        feeds = {a.symbol: a.feed for a in record.assets}
        whole = StackAddresses(uniswap=pools.addresses, feeds=feeds, vault=record)
        extra["addresses"] = str(save_stack_addresses(whole, addresses_out))
    data: dict[str, Any] = {"chain_id": record.chain_id, "block": record.block, **record.contracts,
                            "margin_token": record.assets[0].token, "dev_ptau": record.dev_ptau,
                            "setup": record.setup, "zkey_sha256": record.zkey_sha256}  # fmt: skip
    if record.governance is not None:
        data |= {"owners": ",".join(record.governance.owners),
                 "threshold": record.governance.threshold, "delay": record.governance.delay,
                 "guardian": record.governance.guardian}  # fmt: skip
    _emit(data | extra, as_json)
    if record.dev_ptau:
        typer.echo("warning: the verifier comes from a DEV ptau — not for real funds", err=True)


def _addresses(name: str, text: str) -> list[str]:
    from web3 import Web3

    items = [a.strip() for a in text.split(",") if a.strip()]
    bad = [a for a in items if not Web3.is_address(a)]
    if bad or not items:
        raise ValueError(f"{name}: {', '.join(bad) or 'nothing'} is not an address; give "
                         "0x-addresses separated by commas")  # fmt: skip
    return [Web3.to_checksum_address(a) for a in items]


def _setup_for_deploy(circuit: str, ptau: Path | None) -> CircuitArtifacts:
    from zkrisk.prover.artifacts import build
    from zkrisk.prover.ptau import PtauError
    from zkrisk.prover.registry import get_circuit, load_registry

    from ..keeper.vault_access import circuit_artifacts
    from ..paths import registry_path, repo_root

    if ptau is None:
        return circuit_artifacts(circuit)
    spec = get_circuit(load_registry(registry_path()), circuit)
    try:
        return build(spec, repo_root(), ptau_path=ptau, log=lambda _line: None)
    except PtauError as exc:
        raise ValueError(str(exc)) from None


def _default_folder() -> Path:
    from ..chain.deployments import deployments_dir

    return deployments_dir()


@chain_app.command()
def deposit(
    amount: Annotated[str, typer.Argument(help="Margin to escrow, in tokens (e.g. 20000).")],
    rpc_url: RpcUrl,
    private_key: PrivateKey = None,
    dev_account: DevAccount = None,
    signer: SignerUrl = None,
    signer_token_env: SignerTokenEnv = DEFAULT_TOKEN_ENV,
    signer_wallet: SignerWallet = None,
    deployments: Deployments = None,
    mint: Annotated[bool, typer.Option(help="Mint the amount first (mock tokens only).")] = False,
    as_json: AsJson = False,
) -> None:
    """Approve and deposit margin into the vault (no proof needed)."""
    with bad_input():
        vault = open_handle(
            rpc_url,
            private_key,
            dev_account,
            deployments,
            signer_choice(signer, signer_token_env, signer_wallet),
        ).client
        units = _token_units(amount, vault.token_decimals())
    with _refused():
        if mint:
            vault.chain.transact(vault.token.functions.mint(vault.account, units))
        receipt = vault.deposit(units)
    _emit({"account": vault.account, "deposited": units, "escrow": vault.escrow(),
           **_tx(receipt)}, as_json)  # fmt: skip


def _proven(
    handle: VaultHandle,
    book: Path,
    assets: Path,
    action: Action,
    backend: str,
    amount: int = 0,
    commitment: int | None = None,
) -> Any:
    from zkrisk.prover.backends import create_backend

    from ..files import load_assets
    from ..keeper.books import load_book
    from ..keeper.proving import prove_action
    from ..keeper.vault_access import slot_assets

    with bad_input():
        if handle.client.latest_snapshot_id() == 0:
            raise ValueError(
                "the price book has no snapshot yet: run `zkrisk chain snapshot` first "
                "(proofs are made against the latest snapshot)"
            )
        loaded = load_book(book)
        listed = slot_assets(handle.record, load_assets(assets))
        prover = create_backend(backend)
    with prover:
        return prove_action(handle.client, loaded, listed, action, handle.artifacts, prover,
                            amount=amount, commitment=commitment)  # fmt: skip


AttestationArg = Annotated[
    Path, typer.Argument(help="Signed attestation (JSON from `zkrisk attest`).", dir_okay=False)
]


def _attestation(path: Path) -> SignedAttestation:
    from ..chain.attestation import SignedAttestation

    try:
        text = path.read_text()
    except OSError as exc:
        raise ValueError(f"{path}: {exc.strerror}") from None
    return SignedAttestation.from_json(text)


def _check_domain(signed: SignedAttestation, vault: Any) -> None:
    if signed.domain != vault.domain:
        raise ValueError(
            f"the attestation is for vault {signed.domain.vault} on chain {signed.domain.chain_id}"
            f", not {vault.address} on chain {vault.chain.chain_id}: sign it for this vault"
        )


@chain_app.command("update-book")
def update_book(
    attestation: AttestationArg,
    rpc_url: RpcUrl,
    book: BookOpt,
    assets: AssetsOpt,
    private_key: PrivateKey = None,
    dev_account: DevAccount = None,
    signer: SignerUrl = None,
    signer_token_env: SignerTokenEnv = DEFAULT_TOKEN_ENV,
    signer_wallet: SignerWallet = None,
    deployments: Deployments = None,
    backend: Backend = "best",
    as_json: AsJson = False,
) -> None:
    """The desk commits its attester's newer book with a proof of HF ≥ the vault's minimum (also the first commit)."""  # fmt: skip
    from ..statements.binding import Action

    with bad_input():
        handle = open_handle(
            rpc_url,
            private_key,
            dev_account,
            deployments,
            signer_choice(signer, signer_token_env, signer_wallet),
        )
        signed = _attestation(attestation)
        _check_domain(signed, handle.client)
        if signed.attestation.account.lower() != handle.client.account.lower():
            raise ValueError(
                f"the attestation is {signed.attestation.account}'s book, the signer is "
                f"{handle.client.account}: the desk commits its own book (others: submit-book)"
            )
    vault = handle.client
    commitment = signed.attestation.commitment
    with _refused():
        proven = _proven(handle, book, assets, Action.UPDATE_COMMITMENT, backend,
                         commitment=commitment)  # fmt: skip
        receipt = vault.update_book(signed, proven.action.snapshot_id, proven.proof)
    _emit({"account": vault.account, "commitment": hex(commitment),
           "sequence": signed.attestation.sequence, "snapshot_id": proven.action.snapshot_id,
           "health_factor": proven.health_factor,
           "prove_seconds": round(proven.prove_seconds, 3), **_tx(receipt)}, as_json)  # fmt: skip


@chain_app.command("submit-book")
def submit_book(
    attestation: AttestationArg,
    rpc_url: RpcUrl,
    private_key: PrivateKey = None,
    dev_account: DevAccount = None,
    signer: SignerUrl = None,
    signer_token_env: SignerTokenEnv = DEFAULT_TOKEN_ENV,
    signer_wallet: SignerWallet = None,
    deployments: Deployments = None,
    as_json: AsJson = False,
) -> None:
    """Publish an account's newer attested book (anyone may; no proof): the desk cannot hide a worse book by not updating."""  # fmt: skip
    from ..chain.attestation import check_signature

    with bad_input():
        vault = open_handle(
            rpc_url,
            private_key,
            dev_account,
            deployments,
            signer_choice(signer, signer_token_env, signer_wallet),
        ).client
        signed = _attestation(attestation)
        _check_domain(signed, vault)
        check_signature(signed)
    with _refused():
        receipt = vault.submit_attested_book(signed)
    att = signed.attestation
    _emit({"account": att.account, "commitment": hex(att.commitment), "sequence": att.sequence,
           "submitter": vault.account, **_tx(receipt)}, as_json)  # fmt: skip


@chain_app.command("prove-health")
def prove_health(
    rpc_url: RpcUrl,
    book: BookOpt,
    assets: AssetsOpt,
    private_key: PrivateKey = None,
    dev_account: DevAccount = None,
    signer: SignerUrl = None,
    signer_token_env: SignerTokenEnv = DEFAULT_TOKEN_ENV,
    signer_wallet: SignerWallet = None,
    deployments: Deployments = None,
    backend: Backend = "best",
    as_json: AsJson = False,
) -> None:
    """Re-prove HF ≥ the vault's minimum for the current attested book: restarts the proof clock (no liquidation for staleness)."""  # fmt: skip
    from ..statements.binding import Action

    with bad_input():
        handle = open_handle(
            rpc_url,
            private_key,
            dev_account,
            deployments,
            signer_choice(signer, signer_token_env, signer_wallet),
        )
    vault = handle.client
    with _refused():
        proven = _proven(handle, book, assets, Action.ATTEST, backend)
        receipt = vault.prove_health(proven.action.snapshot_id, proven.proof)
    _emit({"account": vault.account, "snapshot_id": proven.action.snapshot_id,
           "health_factor": proven.health_factor,
           "prove_seconds": round(proven.prove_seconds, 3), **_tx(receipt)}, as_json)  # fmt: skip


@chain_app.command()
def withdraw(
    amount: Annotated[str, typer.Argument(help="Margin to withdraw, in tokens.")],
    rpc_url: RpcUrl,
    book: BookOpt,
    assets: AssetsOpt,
    private_key: PrivateKey = None,
    dev_account: DevAccount = None,
    signer: SignerUrl = None,
    signer_token_env: SignerTokenEnv = DEFAULT_TOKEN_ENV,
    signer_wallet: SignerWallet = None,
    deployments: Deployments = None,
    backend: Backend = "best",
    margin_proof: MarginProofOpt = None,
    as_json: AsJson = False,
) -> None:
    """Withdraw margin with a proof that the book stays healthy without it.

    On a margin-gated vault give --margin-proof RISK_ARRAYS (the published file in force): the proof is then PortfolioMargin's, SPAN requirement ≤ the escrow left.
    """
    from ..statements.binding import Action

    with bad_input():
        handle = open_handle(
            rpc_url,
            private_key,
            dev_account,
            deployments,
            signer_choice(signer, signer_token_env, signer_wallet),
        )
        units = _token_units(amount, handle.client.token_decimals())
    vault = handle.client
    if margin_proof is not None:
        _withdraw_on_margin(handle, book, assets, margin_proof, units, backend, as_json)
        return
    with _refused():
        proven = _proven(handle, book, assets, Action.WITHDRAW, backend, units)
        receipt = vault.withdraw(units, proven.action.snapshot_id, proven.proof)
    _emit({"account": vault.account, "withdrawn": units, "escrow": vault.escrow(),
           "snapshot_id": proven.action.snapshot_id, "health_factor": proven.health_factor,
           "prove_seconds": round(proven.prove_seconds, 3), **_tx(receipt)}, as_json)  # fmt: skip


MarginProofOpt = Annotated[
    Path | None,
    typer.Option("--margin-proof", help="Risk-array file in force: prove PortfolioMargin (margin-gated vault).",
                 dir_okay=False),
]  # fmt: skip


def _margin_setup(
    handle: VaultHandle, assets: Path, arrays_file: Path
) -> tuple[Any, Any, list[str]]:
    """(risk arrays, PortfolioMargin artefacts, slot symbols) for the vault's slots."""
    from zkrisk.prover.artifacts import build
    from zkrisk.prover.registry import get_circuit, load_registry

    from ..chain.margin_withdraw import margin_circuit_name
    from ..files import load_assets, load_model
    from ..keeper.vault_access import slot_assets
    from ..paths import registry_path, repo_root
    from ..risk.margin.arrays import RiskArraySet

    arrays = load_model(arrays_file, RiskArraySet)
    slots = int(handle.artifacts.spec.params[0])
    symbols = [a.symbol for a in slot_assets(handle.record, load_assets(assets))]
    symbols += [""] * (slots - len(symbols))
    name = margin_circuit_name(slots, len(arrays.scenarios))
    spec = get_circuit(load_registry(registry_path()), name)
    return arrays, build(spec, repo_root(), log=lambda line: typer.echo(line, err=True)), symbols


def _withdraw_on_margin(handle: VaultHandle, book: Path, assets: Path, arrays_file: Path,
                        units: int, backend: str, as_json: bool) -> None:  # fmt: skip
    import time

    from zkrisk.prover.backends import create_backend

    from ..chain.margin_withdraw import prove_margin_withdrawal
    from ..keeper.books import load_book

    vault = handle.client
    with bad_input():
        loaded = load_book(book)
        arrays, artifacts, symbols = _margin_setup(handle, assets, arrays_file)
        prover = create_backend(backend)
    with _refused(), prover:
        started = time.perf_counter()
        statement, proof = prove_margin_withdrawal(
            vault, loaded.portfolio, arrays, symbols, salt=loaded.salt, amount=units,
            artifacts=artifacts, backend=prover,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        receipt = vault.withdraw_with_margin_proof(units, proof)
    _emit({"account": vault.account, "withdrawn": units, "escrow": vault.escrow(),
           "requirement": statement.requirement(), "margin_held": statement.margin_held,
           "prove_seconds": round(seconds, 3), **_tx(receipt)}, as_json)  # fmt: skip


@chain_app.command("publish-risk-arrays")
def publish_risk_arrays(
    arrays_file: Annotated[
        Path, typer.Argument(help="Risk-array file to put in force.", dir_okay=False)
    ],
    rpc_url: RpcUrl,
    assets: AssetsOpt,
    private_key: PrivateKey = None,
    dev_account: DevAccount = None,
    signer: SignerUrl = None,
    signer_token_env: SignerTokenEnv = DEFAULT_TOKEN_ENV,
    signer_wallet: SignerWallet = None,
    deployments: Deployments = None,
    as_json: AsJson = False,
) -> None:
    """Publish risk arrays to a margin-gated vault (RISK_ARRAYS_ROLE): fold them into its verifier (on record in calldata, range-checked), then put them in force as a new epoch."""  # fmt: skip
    from ..chain.margin_withdraw import collateral_value, slot_statement
    from ..risk.models import Portfolio

    with bad_input():
        handle = open_handle(
            rpc_url, private_key, dev_account, deployments,
            signer_choice(signer, signer_token_env, signer_wallet),
        )  # fmt: skip
        arrays, artifacts, symbols = _margin_setup(handle, assets, arrays_file)
        flat = Portfolio(account=handle.client.account, positions=())
        statement = slot_statement(flat, arrays, symbols, salt=0)
        value = collateral_value(arrays, symbols[0])
    from ..chain.margin_withdraw import publish_risk_arrays as publish

    with _refused():
        key, folded, published = publish(handle.client, artifacts, statement, value)
    _emit({"risk_arrays_key": hex(key), "collateral_value": value, "epoch":
           handle.client.chain.call(handle.client.vault.functions.riskArrays())[3],
           "fold_gas": folded["gasUsed"], **_tx(published)}, as_json)  # fmt: skip


@chain_app.command()
def liquidate(
    account: Annotated[str, typer.Argument(help="The account to liquidate.")],
    rpc_url: RpcUrl,
    book: Annotated[
        Path | None,
        typer.Option("--book", help="The account's book (view access).", dir_okay=False),
    ] = None,
    assets: Annotated[Path | None, typer.Option(help="Assets file.", dir_okay=False)] = None,
    stale: Annotated[
        bool, typer.Option("--stale", help="No proof: the account's last proof is too old.")
    ] = False,
    private_key: PrivateKey = None,
    dev_account: DevAccount = None,
    signer: SignerUrl = None,
    signer_token_env: SignerTokenEnv = DEFAULT_TOKEN_ENV,
    signer_wallet: SignerWallet = None,
    deployments: Deployments = None,
    backend: Backend = "best",
    as_json: AsJson = False,
) -> None:
    """Liquidate an account with a proof of HF < 1, or without one when its proof is stale.

    Give --book and --assets to prove HF < 0.95 (the whole escrow) or HF < 1 (the close factor) at the latest snapshot, bound to the signer; --stale when the account has not proven health for longer than the policy allows.
    """
    from web3 import Web3
    from web3.logs import DISCARD

    from ..chain.vault_statement import StatementDoesNotHold
    from ..statements.binding import Action

    with bad_input():
        if stale == (book is not None):
            raise ValueError("give either --book (and --assets) or --stale")
        if book is not None and assets is None:
            raise ValueError("--book needs --assets")
        if not Web3.is_address(account):
            raise ValueError(f"{account!r} is not an address")
        handle = open_handle(
            rpc_url,
            private_key,
            dev_account,
            deployments,
            signer_choice(signer, signer_token_env, signer_wallet),
        )
    vault = handle.client
    target = Web3.to_checksum_address(account)
    extra: dict[str, Any] = {}
    with _refused():
        if book is None:
            receipt = vault.liquidate_stale(target)
        else:
            assert assets is not None
            proven = _proven(handle, book, assets, Action.LIQUIDATE, backend)
            if Web3.to_checksum_address(proven.action.account) != target:
                raise StatementDoesNotHold(
                    f"the book is for {proven.action.account}, not {account}"
                )
            action = proven.action
            receipt = vault.liquidate(target, action.snapshot_id, action.proven_margin,
                                      action.hf_below_bps, proven.proof)  # fmt: skip
            extra = {"snapshot_id": action.snapshot_id, "hf_below": action.hf_below_bps / 10_000,
                     "health_factor": proven.health_factor,
                     "prove_seconds": round(proven.prove_seconds, 3)}  # fmt: skip
    (event,) = vault.vault.events.Liquidated().process_receipt(receipt, errors=DISCARD)
    args = event["args"]
    _emit({"account": target, "keeper": vault.account, "path": "STALE_PROOF" if stale else "PROOF",
           "repaid": args["repay"], "bonus": args["bonus"], "escrow_left": args["escrowLeft"],
           **extra, **_tx(receipt)}, as_json)  # fmt: skip


@chain_app.command()
def snapshot(
    rpc_url: RpcUrl,
    private_key: PrivateKey = None,
    dev_account: DevAccount = None,
    signer: SignerUrl = None,
    signer_token_env: SignerTokenEnv = DEFAULT_TOKEN_ENV,
    signer_wallet: SignerWallet = None,
    deployments: Deployments = None,
    as_json: AsJson = False,
) -> None:
    """Take a price snapshot (permissionless): proofs are made against snapshots."""
    with bad_input():
        vault = open_handle(
            rpc_url,
            private_key,
            dev_account,
            deployments,
            signer_choice(signer, signer_token_env, signer_wallet),
        ).client
    with _refused():
        snap = vault.take_snapshot()
    _emit({"snapshot_id": snap.snapshot_id, "taken_at": snap.taken_at,
           "prices": [str(Decimal(p) / 10**8) for p in snap.prices],
           "hash": hex(snap.hash)}, as_json)  # fmt: skip


@chain_app.command("set-price")
def set_price(
    symbol: Annotated[str, typer.Argument(help="Listed symbol, e.g. WETH.")],
    price: Annotated[str, typer.Argument(help="New USD price.")],
    rpc_url: RpcUrl,
    private_key: PrivateKey = None,
    dev_account: DevAccount = None,
    deployments: Deployments = None,
    as_json: AsJson = False,
) -> None:
    """Publish a new answer on a mock price feed (dev chains only; local keys, no --signer)."""
    with bad_input():
        handle = open_handle(rpc_url, private_key, dev_account, deployments)
        listed = {a.symbol: a for a in handle.record.assets}
        if symbol not in listed:
            raise ValueError(f"{symbol} is not listed; listed: {', '.join(listed)}")
        chain = handle.client.chain
        from ..chain.vault_deploy import compile_vault_contracts
        from ..chain.vault_types import feed_answer

        abi = compile_vault_contracts(handle.artifacts)["MockAggregator"].abi
        feed = chain.w3.eth.contract(address=listed[symbol].feed, abi=abi)  # type: ignore[call-overload]
        answer = feed_answer(Decimal(price), int(feed.functions.decimals().call()))
    with _refused():
        receipt = chain.transact(feed.functions.setAnswer(answer))
    _emit({"symbol": symbol, "price": price, **_tx(receipt)}, as_json)


@chain_app.command()
def status(
    rpc_url: RpcUrl,
    account: Annotated[
        str | None, typer.Option(help="Account to show (default: the signer).")
    ] = None,
    private_key: PrivateKey = None,
    dev_account: DevAccount = None,
    deployments: Deployments = None,
    as_json: AsJson = False,
) -> None:
    """The vault, its policy, the latest snapshot and one account's state."""
    from web3 import Web3

    with bad_input():
        if account is not None and not Web3.is_address(account):
            raise ValueError(f"{account!r} is not an address")
        if private_key is None and dev_account is None:
            dev_account = 0  # read-only: any key will do
        handle = open_handle(rpc_url, private_key, dev_account, deployments)
    vault = handle.client
    who = Web3.to_checksum_address(account) if account else vault.account
    state = vault.account_state(who)
    stale, deadline = vault.proof_status(who)
    policy = vault.policy()
    _emit({
        "chain_id": handle.record.chain_id, "vault": vault.address, "circuit": handle.record.circuit,
        "zkey_sha256": handle.record.zkey_sha256, "dev_ptau": handle.record.dev_ptau,
        "paused": bool(vault.vault.functions.paused().call()),
        "min_health": policy.min_health_bps / 10_000, "latest_snapshot": vault.latest_snapshot_id(),
        "account": who, "escrow": state.escrow, "nonce": state.nonce,
        "commitment": hex(state.commitment), "book_sequence": state.book_sequence,
        "attester": vault.attester_of(who), "last_proof_snapshot": state.last_proof_snapshot_id,
        "liquidatable_without_proof": stale, "proof_deadline": deadline,
        "grace_ends_at": vault.grace_ends_at(),
    }, as_json)  # fmt: skip


govern_app = typer.Typer(
    help="Propose, execute and inspect parameter changes through the Safe and the timelock.",
    no_args_is_help=True,
    rich_markup_mode=None,
    cls=FullHelpGroup,
)
chain_app.add_typer(govern_app, name="govern")


def _govern(step: str, action: str, rpc_url: str, private_key: str | None,
            dev_account: int | None, deployments: Path | None, account: str | None,
            attester: str | None, settings: list[str] | None, keys: Path | None,
            as_json: bool) -> None:  # fmt: skip
    with bad_input():
        handle = open_handle(rpc_url, private_key, dev_account, deployments)
    with _refused():
        result = cli_govern.run_govern(step, handle, action, account=account, attester=attester,
                                       settings=settings, keys_file=keys)  # fmt: skip
    _emit(result, as_json)


@govern_app.command("propose")
def govern_propose(
    action: cli_govern.ActionArg,
    rpc_url: RpcUrl,
    account: cli_govern.AccountOpt = None,
    attester: cli_govern.AttesterOpt = None,
    settings: cli_govern.SetOpt = None,
    owner_keys: cli_govern.OwnerKeys = None,
    private_key: PrivateKey = None,
    dev_account: DevAccount = None,
    deployments: Deployments = None,
    as_json: AsJson = False,
) -> None:
    """The Safe's owners schedule ACTION on the timelock (it runs after the delay)."""
    _govern("propose", action, rpc_url, private_key, dev_account, deployments, account,
            attester, settings, owner_keys, as_json)  # fmt: skip


@govern_app.command("execute")
def govern_execute(
    action: cli_govern.ActionArg,
    rpc_url: RpcUrl,
    account: cli_govern.AccountOpt = None,
    attester: cli_govern.AttesterOpt = None,
    settings: cli_govern.SetOpt = None,
    owner_keys: cli_govern.OwnerKeys = None,
    private_key: PrivateKey = None,
    dev_account: DevAccount = None,
    deployments: Deployments = None,
    as_json: AsJson = False,
) -> None:
    """The Safe's owners execute a proposed ACTION once the timelock's delay has passed."""
    _govern("execute", action, rpc_url, private_key, dev_account, deployments, account,
            attester, settings, owner_keys, as_json)  # fmt: skip


@govern_app.command("status")
def govern_status(
    action: cli_govern.ActionArg,
    rpc_url: RpcUrl,
    account: cli_govern.AccountOpt = None,
    attester: cli_govern.AttesterOpt = None,
    settings: cli_govern.SetOpt = None,
    private_key: PrivateKey = None,
    dev_account: DevAccount = None,
    deployments: Deployments = None,
    as_json: AsJson = False,
) -> None:
    """The timelock state of ACTION: Unset, Waiting, Ready or Done."""
    if private_key is None and dev_account is None:
        dev_account = 0  # read-only: any key will do
    _govern("status", action, rpc_url, private_key, dev_account, deployments, account,
            attester, settings, None, as_json)  # fmt: skip


@chain_app.command("advance-time")
def advance_time_cmd(
    seconds: Annotated[int, typer.Argument(help="Seconds to move the clock ahead.", min=1)],
    rpc_url: RpcUrl,
    as_json: AsJson = False,
) -> None:
    """Dev chains (Anvil): move the node's clock ahead and mine a block (a timelock delay, a cooldown; no key needed)."""  # fmt: skip
    from web3 import Web3

    with bad_input():
        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        if not w3.is_connected():
            raise ValueError(f"no Ethereum JSON-RPC node answers at {rpc_url}: check --rpc-url")
        reply = w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
        if "error" in reply:
            raise ValueError(f"the node refused evm_increaseTime ({reply['error']}): Anvil only")
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    _emit({"timestamp": int(w3.eth.get_block("latest")["timestamp"])}, as_json)
