"""Starting the signer: keystores, passphrases and the policy file, refused with how to fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner, Result

from zkrisk.engine.cli.main import app
from zkrisk.engine.files import InputError
from zkrisk.engine.signer.keystore import (
    PASSPHRASE_ENV,
    new_keystore,
    open_keystore,
    read_passphrase,
)
from zkrisk.engine.signer.policy import SignerPolicy, load_signer_policy

from .support import DOMAIN, FAKE_VENUE, PASSPHRASE, TOKEN, TRADER, TRADER_KEY, write_setup


def zkrisk(*args: str, stdin: str = "", **env: str) -> Result:
    """The CLI in-process (the real process runs in test_signer_process.py)."""
    return CliRunner().invoke(app, list(args), input=stdin, env=env)


def test_a_keystore_opens_with_its_passphrase_and_refuses_another(tmp_path: Path) -> None:
    path = tmp_path / "k.json"
    path.write_text(new_keystore(TRADER_KEY, PASSPHRASE, iterations=1024))
    assert json.loads(path.read_text())["crypto"]["kdf"] == "scrypt"
    assert open_keystore(path, PASSPHRASE) == (TRADER, bytes.fromhex(TRADER_KEY[2:]))
    with pytest.raises(InputError, match="MAC mismatch"):
        open_keystore(path, "not the passphrase")


def test_the_passphrase_comes_from_its_file_else_the_environment(tmp_path: Path) -> None:
    (tmp_path / "p").write_text("from the file\n")
    assert read_passphrase(tmp_path / "p", env={PASSPHRASE_ENV: "env"}) == "from the file"
    assert read_passphrase(None, env={PASSPHRASE_ENV: "from the env"}) == "from the env"
    with pytest.raises(InputError, match="--passphrase-file"):
        read_passphrase(None, env={})


def test_a_policy_must_say_where_halted_is_read_and_listen_on_loopback_only() -> None:
    fields = {"approver": TRADER, "approval_domain": DOMAIN, "wallets": [TRADER],
              "uniswap_addresses": "u.json"}  # fmt: skip
    with pytest.raises(ValidationError, match="halt_file, risk_service_url"):
        SignerPolicy.model_validate(fields)
    with pytest.raises(ValidationError, match="loopback"):
        SignerPolicy.model_validate(fields | {"halt_file": "H", "host": "0.0.0.0"})


def test_a_policy_whose_domain_is_on_another_chain_than_the_venue_is_refused(
    tmp_path: Path,
) -> None:
    config, _, _ = write_setup(tmp_path, FAKE_VENUE.model_copy(update={"chain_id": 1}))
    with pytest.raises(InputError, match="venue is on chain 1"):
        load_signer_policy(config)


def test_serve_refuses_to_start_without_a_keystore_for_an_allowed_wallet(tmp_path: Path) -> None:
    other = "0x" + "77" * 20
    config, keystore, passphrase = write_setup(tmp_path, FAKE_VENUE, wallets=[TRADER, other])
    done = zkrisk("signer", "serve", "--config", str(config), "--keystore", str(keystore),
                  "--passphrase-file", str(passphrase), ZKRISK_SIGNER_TOKEN=TOKEN)  # fmt: skip
    assert done.exit_code == 2 and "no keystore for the allowed wallet" in done.stderr
    assert other in done.stderr


def test_serve_refuses_to_start_without_its_token(tmp_path: Path) -> None:
    config, keystore, passphrase = write_setup(tmp_path, FAKE_VENUE)
    done = zkrisk("signer", "serve", "--config", str(config), "--keystore", str(keystore),
                  "--passphrase-file", str(passphrase), ZKRISK_SIGNER_TOKEN="short")  # fmt: skip
    assert done.exit_code == 2 and "ZKRISK_SIGNER_TOKEN" in done.stderr


def test_new_keystore_writes_the_key_from_stdin_and_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "p").write_text(PASSPHRASE)
    args = ("signer", "new-keystore", "--out", str(tmp_path / "k.json"), "--passphrase-file",
            str(tmp_path / "p"), "--key-from-stdin", "--scrypt-n", "1024")  # fmt: skip
    done = zkrisk(*args, stdin=TRADER_KEY)
    assert done.exit_code == 0 and done.stdout.strip() == TRADER
    assert open_keystore(tmp_path / "k.json", PASSPHRASE)[0] == TRADER
    again = zkrisk(*args, stdin=TRADER_KEY)
    assert again.exit_code == 2 and "never overwritten" in again.stderr
