"""The service config file and its secrets from the environment."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from zkrisk.engine.api.config import load_serve_config, read_secrets
from zkrisk.engine.files import InputError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_example_config_resolves_paths_against_its_own_folder() -> None:
    config = load_serve_config(EXAMPLES / "serve.toml")
    assert config.policy_file == EXAMPLES / "policy.toml"
    assert config.portfolio_files == (EXAMPLES / "portfolio.toml",)
    assert config.audit_db == EXAMPLES.parent / "build" / "zkrisk-audit.sqlite"
    assert config.signing.verifying_contract == "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def test_a_bad_verifying_contract_is_refused_naming_the_line(tmp_path: Path) -> None:
    text = (EXAMPLES / "serve.toml").read_text().replace("0x5FbDB23", "0xZZ")
    (tmp_path / "serve.toml").write_text(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "verifying_contract" in t)
    with pytest.raises(InputError, match=rf"serve.toml:{line}: signing.verifying_contract: "):
        load_serve_config(tmp_path / "serve.toml")


def test_secrets_come_from_the_named_environment_variables() -> None:
    config = load_serve_config(EXAMPLES / "serve.toml")
    secrets = read_secrets(
        config, {"ZKRISK_SIGNER_KEY": "ab" * 32, "ZKRISK_KILLSWITCH_TOKEN": "x" * 16}
    )
    assert secrets.signer_key == "0x" + "ab" * 32 and secrets.kill_switch_token == "x" * 16
    assert "ab" not in repr(secrets)


def test_a_short_kill_switch_token_is_refused() -> None:
    config = load_serve_config(EXAMPLES / "serve.toml")
    with pytest.raises(InputError, match="ZKRISK_KILLSWITCH_TOKEN: must hold"):
        read_secrets(config, {"ZKRISK_SIGNER_KEY": "ab" * 32, "ZKRISK_KILLSWITCH_TOKEN": "short"})


def test_an_api_key_given_in_clear_instead_of_its_hash_is_refused_with_how_to_hash_it(
    tmp_path: Path,
) -> None:
    text = (EXAMPLES / "serve.toml").read_text()
    text = re.sub(r'sha256 = "[0-9a-f]{64}"', 'sha256 = "example-desk-a-key"', text)
    (tmp_path / "serve.toml").write_text(text)
    with pytest.raises(InputError, match=r"api_keys\.0\.sha256: .*zkrisk serve --hash-key"):
        load_serve_config(tmp_path / "serve.toml")


def test_a_config_without_api_keys_is_refused(tmp_path: Path) -> None:
    text = (EXAMPLES / "serve.toml").read_text()
    start, end = text.index("[[api_keys]]"), text.index("[signing]")
    (tmp_path / "serve.toml").write_text(text[:start] + text[end:])
    with pytest.raises(InputError, match="api_keys: required field is missing"):
        load_serve_config(tmp_path / "serve.toml")


def test_two_clients_with_one_key_are_refused(tmp_path: Path) -> None:
    text = (EXAMPLES / "serve.toml").read_text()
    start, end = text.index("[[api_keys]]"), text.index("[signing]")
    twin = text[start:end].replace('name = "desk-a"', 'name = "desk-b"')
    (tmp_path / "serve.toml").write_text(text[:end] + twin + text[end:])
    with pytest.raises(InputError, match="two clients share one key hash"):
        load_serve_config(tmp_path / "serve.toml")
