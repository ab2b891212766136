"""The `zkrisk` command line (the walking skeleton's commands; more come with the operator surface)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from zkrisk.prover.artifacts import build
from zkrisk.prover.registry import load_registry
from zkrisk.prover.toolchain import ToolchainError, check_all

from .paths import registry_path, repo_root

app = typer.Typer(
    help="zkrisk: a private trading risk engine with Groth16-proven verdicts.", no_args_is_help=True
)


@app.command()
def toolchain() -> None:
    """Show where every tool of the pinned toolchain was found."""
    try:
        found = check_all()
    except ToolchainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(found, indent=2))


@app.command("build")
def build_circuits(
    name: Annotated[
        list[str] | None, typer.Argument(help="circuits to build (default: all)")
    ] = None,
) -> None:
    """Compile circuits and run their Groth16 setup (cached by content hash)."""
    registry = load_registry(registry_path())
    for circuit in name or list(registry):
        artifacts = build(registry[circuit], repo_root(), log=typer.echo)
        flag = "  (DEV ptau — insecure)" if artifacts.dev_ptau else ""
        typer.echo(
            f"{circuit}: {artifacts.meta['constraints']:,} constraints → {artifacts.folder}{flag}"
        )


@app.command()
def demo() -> None:
    """Run the end-to-end demo on a local Anvil node it starts and stops."""
    from .demo import run_demo

    try:
        run_demo()
    except ToolchainError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


if __name__ == "__main__":
    app()
