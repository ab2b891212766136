"""`zkrisk prove`, `zkrisk verify` and `zkrisk setup`: attestation bundles and snarkjs files.

`prove` writes OUT/bundle.json (proof, circuit, verification-key hash, the statement in domain
terms) beside snarkjs' proof.json / public.json; `verify BUNDLE --expect STATEMENT` accepts a
bundle only when its proof proves the verifier's own statement.

Exit codes: 0 proven / accepted / set up, 1 the statement does not hold or the bundle is
refused, 2 bad input (a missing or invalid file, an unknown circuit or backend).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from zkrisk.prover.backend_names import CHOICES

from ..proof_kinds import StatementKind, Verifier
from .common import EXIT_FAILED, bad_input, fail

# The prover, the statements and the verifiers load in the commands that use them: every
# `zkrisk` command would pay for them otherwise (tests/cli/test_cli_startup.py).
if TYPE_CHECKING:
    from zkrisk.prover.artifacts import CircuitArtifacts
    from zkrisk.prover.proof import Proof


def artifacts_for(name: str, *, quiet: bool = True) -> CircuitArtifacts:
    """The built (cached) artefacts of circuit `name`; RegistryError for an unknown one."""
    from zkrisk.prover.artifacts import build
    from zkrisk.prover.registry import get_circuit, load_registry

    from ..paths import registry_path, repo_root

    spec = get_circuit(load_registry(registry_path()), name)
    say = (lambda _line: None) if quiet else (lambda line: typer.echo(line, err=True))
    return build(spec, repo_root(), log=say)


def _parse_salt(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise ValueError(f"--salt {text!r} is not an integer (0x-hex or decimal)") from None


def _write_salt(out: Path, salt: int) -> Path:
    path = out / "salt.txt"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"{salt:#x}\n")
    return path


def _calldata_json(proof: Proof) -> str:
    words, public = proof.calldata()
    return json.dumps({"proof": [hex(w) for w in words], "publicSignals": [hex(s) for s in public]})


def prove(
    statement: Annotated[StatementKind, typer.Argument(help="health, limits or attest.")],
    portfolio: Annotated[Path, typer.Option(help="The book (TOML, YAML or JSON).", dir_okay=False)],
    prices: Annotated[Path, typer.Option(help="Prices (oracle snapshot).", dir_okay=False)],
    assets: Annotated[
        Path, typer.Option(help="Assets in slot order (slot 0 = margin asset).", dir_okay=False)
    ],
    params: Annotated[
        Path | None,
        typer.Option(help="Statement parameters ([health] / [limits] / [attest]).", dir_okay=False),
    ] = None,
    scenarios: Annotated[
        Path | None, typer.Option(help="Scenario set (attest only).", dir_okay=False)
    ] = None,
    circuit: Annotated[
        str | None,
        typer.Option(help="Registry circuit (default: health4, limits4 or attest4x20)."),
    ] = None,
    salt: Annotated[
        str | None,
        typer.Option(
            help="The book's commitment salt (0x-hex). Default: a new one, written to "
            "OUT/salt.txt (keep it private)."
        ),
    ] = None,
    out: Annotated[
        Path,
        typer.Option(help="Folder for proof.json, public.json and bundle.json.", file_okay=False),
    ] = Path("proof"),
    backend: Annotated[str, typer.Option(help=f"Prover backend: {', '.join(CHOICES)}.")] = "best",
    calldata: Annotated[
        bool, typer.Option("--calldata", help="Print uint256[8] + public signals as JSON.")
    ] = False,
) -> None:
    """Prove a statement about a private book; writes an attestation bundle + snarkjs files."""
    from rich.console import Console

    from zkrisk.prover.backends import create_backend
    from zkrisk.prover.errors import BackendUnavailable, WitnessError
    from zkrisk.prover.registry import get_circuit, load_registry

    from ..attestation_bundle import DEV_WARNING, make_bundle
    from ..files import load_assets, load_portfolio, load_prices, load_scenarios
    from ..paths import registry_path
    from ..prove_params import (
        DEFAULT_CIRCUITS,
        ProveInputs,
        ProveParams,
        breaches,
        build_statement,
        load_params,
    )
    from ..statements.commitment import new_salt

    with bad_input():
        kind = StatementKind(statement)
        name = circuit or DEFAULT_CIRCUITS[kind]
        spec = get_circuit(load_registry(registry_path()), name)
        inputs = ProveInputs(
            book=load_portfolio(portfolio),
            snapshot=load_prices(prices),
            assets=load_assets(assets),
            params=ProveParams() if params is None else load_params(str(params)),
            scenarios=None if scenarios is None else load_scenarios(scenarios),
            salt=new_salt() if salt is None else _parse_salt(salt),
        )
        built = build_statement(kind, spec, inputs)
    reasons = breaches(built)
    if reasons:
        fail([f"the {kind.value} statement does not hold, so no proof exists:", *reasons],
             EXIT_FAILED)  # fmt: skip
    with bad_input():
        artifacts = artifacts_for(name, quiet=False)
    try:
        with create_backend(backend) as prover:
            started = time.perf_counter()
            proof = prover.prove(artifacts, built.signals())
            seconds = time.perf_counter() - started
            used = prover.name
    except (BackendUnavailable, ValueError) as exc:
        fail([str(exc)])
    except WitnessError as exc:  # the engine said it holds: engine and circuit disagree
        fail([f"the circuit rejected the statement the engine accepts: {exc}"], EXIT_FAILED)
    if proof.public_signals != built.public_signals():
        fail(["the prover returned public signals that differ from the statement"], EXIT_FAILED)
    out.mkdir(parents=True, exist_ok=True)
    proof.save(out / "proof.json", out / "public.json")
    bundle = make_bundle(kind, inputs, built, artifacts, proof).save(out / "bundle.json")
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print(f"proved {kind.value} on {name} with {used} in {seconds:.2f}s → "
                  f"{out / 'proof.json'}, {out / 'public.json'}")  # fmt: skip
    console.print(f"attestation bundle for a counterparty → {bundle}")
    console.print(f"commitment {built.public_signals()[0]:#x}")
    if salt is None:
        console.print(f"new salt written to {_write_salt(out, inputs.salt)} (private: keep it)")
    if artifacts.dev_ptau:
        console.print(f"[yellow]warning:[/] {DEV_WARNING.format(name=name)}")
    if calldata:
        typer.echo(_calldata_json(proof))


def _load_bundle_or_proof(
    file: Path, circuit: str | None, public: Path | None
) -> tuple[Proof, str, bool]:
    """(proof with its own public signals, circuit, dev flag claimed) for --trust-public-signals."""
    from zkrisk.prover.proof import Proof

    from ..attestation_bundle import load_bundle

    try:
        doc = json.loads(file.read_text())
    except FileNotFoundError:
        raise ValueError(f"{file}: file not found") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{file}: not JSON: {exc}") from None
    if isinstance(doc, dict) and "format" in doc:
        bundle = load_bundle(file)
        return bundle.groth16(), circuit or bundle.circuit.name, bundle.dev_ptau
    if circuit is None:
        raise ValueError(f"{file} is a proof.json, not a bundle: name its circuit with --circuit")
    public_file = public or file.with_name("public.json")
    try:
        return Proof.load(file, public_file), circuit, False
    except FileNotFoundError as exc:
        raise ValueError(f"{exc.filename}: file not found") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{public_file}: not JSON: {exc}") from None


TRUST_WARNING = (
    "--trust-public-signals checks only that the proof is valid for the public signals it "
    "came with — limits, prices, scenarios and commitment the PROVER chose. Do not rely on it: "
    "verify a bundle with --expect YOUR-STATEMENT.toml instead."
)


def _verify_trusting(
    file: Path, circuit: str | None, public: Path | None, with_: Verifier, calldata: bool
) -> None:
    from zkrisk.prover import pyverify, snarkjs_cli
    from zkrisk.prover.registry import RegistryError

    from ..attestation_bundle import DEV_WARNING

    typer.echo(f"warning: {TRUST_WARNING}", err=True)
    with bad_input():
        proof, name, _ = _load_bundle_or_proof(file, circuit, public)
        try:
            artifacts = artifacts_for(name)
        except RegistryError as exc:
            raise ValueError(str(exc)) from None
    n = artifacts.compiled.info.n_public
    if len(proof.public_signals) != n:
        fail([f"{file}: {len(proof.public_signals)} public signals, {name} has {n}"],
             EXIT_FAILED)  # fmt: skip
    started = time.perf_counter()
    valid = (pyverify.verify(artifacts.vkey, proof) if with_ == "python"
             else snarkjs_cli.verify(artifacts.vkey, proof))  # fmt: skip
    seconds = time.perf_counter() - started
    if not valid:
        fail([f"INVALID proof: {file} does not verify for {name} with {with_} — a "
              "tampered proof or public signal, or a proof for another circuit or key"],
             EXIT_FAILED)  # fmt: skip
    typer.echo(f"OK: {file} is a valid {name} proof ({with_}, {seconds:.2f}s) of the statement "
               "in its own public signals")  # fmt: skip
    if artifacts.dev_ptau:
        typer.echo(f"warning: {DEV_WARNING.format(name=name)}", err=True)
    if calldata:
        typer.echo(_calldata_json(proof))


def verify(
    file: Annotated[
        Path,
        typer.Argument(
            help="An attestation bundle (OUT/bundle.json of `zkrisk prove`); with "
            "--trust-public-signals also a snarkjs proof.json.",
            dir_okay=False,
        ),
    ],
    expect: Annotated[
        Path | None,
        typer.Option(
            help="YOUR statement (TOML, YAML or JSON: limits, prices, scenarios, commitment): "
            "the bundle is accepted only if its proof proves exactly it.",
            dir_okay=False,
        ),
    ] = None,
    commitment: Annotated[
        str | None,
        typer.Option(
            help="The commitment you know (0x-hex, e.g. the vault's); overrides --expect's."
        ),
    ] = None,
    trust_public_signals: Annotated[
        bool,
        typer.Option(
            "--trust-public-signals",
            help="Check the proof only against the public signals it comes with (a statement "
            "the prover chose); prints a warning. Not for relying on.",
        ),
    ] = False,
    circuit: Annotated[
        str | None,
        typer.Option(help="Registry circuit of a proof.json (with --trust-public-signals)."),
    ] = None,
    public: Annotated[
        Path | None,
        typer.Option(
            help="Public signals of a proof.json (default: public.json beside it).", dir_okay=False
        ),
    ] = None,
    with_: Annotated[
        Verifier,
        typer.Option("--with", help="Verifier: snarkjs or the pure-Python one."),
    ] = "snarkjs",
    calldata: Annotated[
        bool, typer.Option("--calldata", help="Also print uint256[8] + public signals.")
    ] = False,
) -> None:
    """Verify an attestation bundle against YOUR statement (--expect): exit 0 accepted, 1 refused."""
    from zkrisk.prover.registry import RegistryError

    from ..attestation_bundle import DEV_WARNING, load_bundle
    from ..attestation_verifier import verify_attestation
    from ..expectation import load_expectation, parse_commitment
    from ..risk.policy import PolicyError

    if trust_public_signals:
        if expect is not None or commitment is not None:
            fail(["--trust-public-signals and --expect / --commitment exclude each other"])
        _verify_trusting(file, circuit, public, with_, calldata)
        return
    if expect is None:
        fail([f"verify {file} against your own statement: --expect STATEMENT.toml (see "
              "examples/expect-limits.toml), or --trust-public-signals to check only that some "
              "statement of the prover's choosing holds"])  # fmt: skip
    if circuit is not None or public is not None:
        fail(["--circuit and --public go with --trust-public-signals; with --expect the circuit "
              "is the expectation's"])  # fmt: skip
    with bad_input():
        bundle = load_bundle(file)
        expectation = load_expectation(expect)
        if commitment is not None:
            expectation = expectation.model_copy(
                update={"commitment": parse_commitment(commitment)}
            )
        try:
            result = verify_attestation(bundle, expectation, verifier=with_)
        except PolicyError:
            raise  # names its own file
        except (RegistryError, ValueError) as exc:
            raise ValueError(f"{expect}: {exc}") from None
    if result.dev_ptau:
        typer.echo(f"warning: {DEV_WARNING.format(name=result.circuit)}", err=True)
    if not result.accepted:
        fail([f"REFUSED: {file} does not prove your statement {expect}:", *result.reasons()],
             EXIT_FAILED)  # fmt: skip
    typer.echo(f"ACCEPTED: {file} proves your {expectation.statement.value} statement {expect} "
               f"on {result.circuit} ({with_}, {result.seconds:.2f}s)")  # fmt: skip
    if calldata:
        typer.echo(_calldata_json(bundle.groth16()))


def setup(
    name: Annotated[
        list[str] | None, typer.Argument(help="Circuits to set up (default: all).")
    ] = None,
    ptau: Annotated[
        Path | None,
        typer.Option(help="A prepared powers-of-tau file (e.g. a ceremony's).", dir_okay=False),
    ] = None,
    generate: Annotated[bool, typer.Option(help="Generate a dev ptau when none is found.")] = True,
) -> None:
    """Groth16 trusted setup (compiles first; cached), saying plainly which ptau it used.

    The ptau is --ptau if given, else the first folder with a big enough one among $ZKRISK_PTAU_DIRS, ../shared/ptau and the cache ($ZKRISK_CACHE/ptau, default ~/.cache/zkrisk/ptau), else a generated development ptau (written to the cache).
    """
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from zkrisk.prover.artifacts import build, compile_circuit
    from zkrisk.prover.ptau import PtauError, cache_dir, resolve_ptau, search_dirs
    from zkrisk.prover.registry import RegistryError, get_circuit, load_registry

    from ..attestation_bundle import DEV_WARNING
    from ..paths import registry_path, repo_root

    with bad_input():
        try:
            registry = load_registry(registry_path())
            specs = [get_circuit(registry, n) for n in (name or list(registry))]
        except RegistryError as exc:
            raise ValueError(str(exc)) from None
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    folders = ", ".join(str(d) for d, source in search_dirs() if source != "cache")
    searched = "--ptau only" if ptau is not None else f"{folders}, then the cache"
    console.print(f"ptau cache: {cache_dir()} ($ZKRISK_CACHE moves it); searched: {searched}",
                  markup=False)  # fmt: skip
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn())  # fmt: skip
    done: list[CircuitArtifacts] = []
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("setup", total=len(specs))

        def say(line: str) -> None:
            progress.console.print(line, markup=False)

        for spec in specs:
            progress.update(task, description=f"setup {spec.name}")
            try:
                compiled = compile_circuit(spec, repo_root(), log=say)
                found = resolve_ptau(compiled.info.min_ptau_power, ptau, generate=generate,
                                     log=say)  # fmt: skip
                artifacts = build(spec, repo_root(), ptau_path=found.path,
                                  log=say)  # fmt: skip
            except PtauError as exc:
                fail([str(exc)])
            kind = "DEVELOPMENT (insecure)" if found.dev else "ceremony"
            progress.console.print(
                f"{spec.name}: {compiled.info.n_constraints:,} constraints, ptau power "
                f"{found.power} ({kind}, {found.source}: {found.path})"
            )
            done.append(artifacts)
            progress.advance(task)
    for artifacts in done:
        typer.echo(f"{artifacts.spec.name}: {artifacts.folder}")
        if artifacts.dev_ptau:
            typer.echo(f"warning: {DEV_WARNING.format(name=artifacts.spec.name)}")
