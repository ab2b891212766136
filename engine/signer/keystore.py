"""Trader keys at rest: eth-account keystore V3 files, opened with a passphrase that comes from a
file or the environment (never a command-line flag: `ps` would show it)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_typing import HexStr

from ..files import InputError
from ..risk.policy import PolicyIssue

PASSPHRASE_ENV = "ZKRISK_SIGNER_PASSPHRASE"


def read_passphrase(passphrase_file: Path | None, env: dict[str, str] | None = None) -> str:
    """The passphrase from `passphrase_file` (one trailing newline dropped), else $PASSPHRASE_ENV."""
    if passphrase_file is not None:
        try:
            text = passphrase_file.read_text()
        except OSError as exc:
            raise InputError(str(passphrase_file), [PolicyIssue("", None, str(exc))]) from None
        phrase = text.removesuffix("\n")
    else:
        phrase = (os.environ if env is None else env).get(PASSPHRASE_ENV, "")
    if not phrase:
        where = str(passphrase_file) if passphrase_file else PASSPHRASE_ENV
        raise InputError(where, [PolicyIssue("", None, "the keystore passphrase is empty: "
                         f"give --passphrase-file FILE or set {PASSPHRASE_ENV}")])  # fmt: skip
    return phrase


def new_keystore(private_key: str, passphrase: str, iterations: int | None = None) -> str:
    """A V3 keystore (scrypt) of `private_key`, as JSON text."""
    document = Account.encrypt(HexStr(private_key), passphrase, kdf="scrypt", iterations=iterations)
    return json.dumps(document, indent=2) + "\n"


def open_keystore(path: Path, passphrase: str) -> tuple[str, bytes]:
    """(checksummed address, private key) of the keystore at `path`; InputError when unusable."""
    try:
        document: dict[str, Any] = json.loads(path.read_text())
        key = bytes(Account.decrypt(document, passphrase))
    except OSError as exc:
        raise InputError(str(path), [PolicyIssue("", None, str(exc))]) from None
    except ValueError as exc:  # bad JSON, a wrong passphrase ("MAC mismatch")
        raise InputError(str(path), [PolicyIssue("", None, f"cannot open the keystore: {exc} "
                         "(a wrong passphrase gives 'MAC mismatch')")]) from None  # fmt: skip
    return str(Account.from_key(key).address), key
