"""`zkrisk signer`: the trader wallets' keys in their own process (engine/signer/).

`serve` opens the keystores (passphrase from --passphrase-file or $ZKRISK_SIGNER_PASSPHRASE, never
a flag) and signs, on loopback, only transactions an unexpired, unused risk-service approval
covers. `new-keystore` writes a V3 keystore of a fresh key (or of one read from stdin).

Exit codes: 0 stopped (Ctrl-C / SIGTERM), 2 bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import bad_input, fail
from .help import FullHelpGroup

signer_app = typer.Typer(
    help="The transaction signer: keys out of the engine, only approved transactions signed.",
    no_args_is_help=True,
    rich_markup_mode=None,
    cls=FullHelpGroup,
)

PassphraseFile = Annotated[
    Path | None,
    typer.Option(help="File holding the keystore passphrase (else $ZKRISK_SIGNER_PASSPHRASE)."),
]


@signer_app.command()
def serve(
    keystore: Annotated[list[Path], typer.Option(help="A wallet's V3 keystore (repeatable).")],
    config: Annotated[Path, typer.Option(help="The signer's policy (signer.toml).")],
    passphrase_file: PassphraseFile = None,
) -> None:
    """Sign, on loopback, only the transactions a risk-service approval covers."""
    import os
    import signal

    from ..signer.halt import HaltSource
    from ..signer.keystore import open_keystore, read_passphrase
    from ..signer.policy import load_signer_policy
    from ..signer.server import Signer, build_server

    with bad_input():
        policy, venue = load_signer_policy(config)
        token = os.environ.get(policy.token_env, "")
        if len(token) < 16:
            fail([f"${policy.token_env} must hold the API's bearer token (≥ 16 characters)"])
        phrase = read_passphrase(passphrase_file)
        keys = dict(open_keystore(path, phrase) for path in keystore)
        try:
            signer = Signer(policy, venue, {a.lower(): k for a, k in keys.items()},
                            HaltSource(policy.halt_file, policy.risk_service_url))  # fmt: skip
        except ValueError as exc:
            fail([str(exc)])
    server = build_server(signer, token)
    for line in signer.deliver_open():  # what a crash left signed, not sent
        typer.echo(f"zkrisk signer: {line}", err=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt))
    host, port = server.server_address[:2]
    typer.echo(
        f"zkrisk signer: listening on http://{host!s}:{port} for {', '.join(signer.wallets)}"
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        signer.close()


@signer_app.command("new-keystore")
def new_keystore_command(
    out: Annotated[Path, typer.Option(help="Where to write the keystore (must not exist).")],
    passphrase_file: PassphraseFile = None,
    key_from_stdin: Annotated[
        bool, typer.Option(help="Read the private key (hex) from stdin instead of making one.")
    ] = False,
    scrypt_n: Annotated[int, typer.Option(help="scrypt work factor (a power of 2).")] = 262_144,
) -> None:
    """Write a V3 keystore (scrypt) of a new key; prints its address."""
    import sys

    from eth_account import Account

    from ..signer.keystore import new_keystore, read_passphrase

    with bad_input():
        if out.exists():
            fail([f"{out} exists: the keystore is never overwritten; choose another --out"])
        phrase = read_passphrase(passphrase_file)
        key = sys.stdin.read().strip() if key_from_stdin else "0x" + Account.create().key.hex()
        try:
            address = Account.from_key(key).address
        except ValueError:
            fail(["stdin does not hold a 32-byte hex private key"])
        out.write_text(new_keystore(key, phrase, scrypt_n))
        out.chmod(0o600)
    typer.echo(address)
