"""A missing node, npm package or ptau gives a one-line error that names the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from zkrisk.prover import ptau as ptau_mod
from zkrisk.prover import toolchain
from zkrisk.prover.binfmt import read_ptau_power
from zkrisk.prover.ptau import PtauError, resolve_ptau


@pytest.fixture(autouse=True)
def _fresh_caches() -> None:
    toolchain.find_node_modules.cache_clear()
    toolchain.node.cache_clear()
    toolchain.solc_binary.cache_clear()


def _one_line(message: str) -> None:
    assert "\n" not in message and message


def test_every_tool_is_found_in_the_pinned_toolchain() -> None:
    found = toolchain.check_all()
    for tool in ("node", "circom", "snarkjs", "anvil", "forge", "solc", "circomlib"):
        assert tool in found


def test_missing_node_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(toolchain.ToolchainError) as err:
        toolchain.node()
    _one_line(str(err.value))
    assert "apt-get install -y nodejs npm" in str(err.value)


def test_missing_npm_package_names_npm_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "node_modules"
    (fake / "snarkjs").mkdir(parents=True)
    monkeypatch.setenv("ZKRISK_NODE_MODULES", str(fake))
    with pytest.raises(toolchain.ToolchainError) as err:
        toolchain.tool_command("circom")
    _one_line(str(err.value))
    assert "npm package circom2 not installed" in str(err.value)
    assert "npm ci" in str(err.value)


def test_node_modules_without_snarkjs_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ZKRISK_NODE_MODULES", str(tmp_path))
    with pytest.raises(toolchain.ToolchainError, match="run `npm ci` there"):
        toolchain.find_node_modules()


def test_native_solc_is_preferred_over_the_shim(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "solc"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    assert toolchain.solc_binary() == fake


def test_solc_shim_answers_version_like_native_solc() -> None:
    import subprocess

    out = subprocess.run(
        [str(toolchain.SOLC_SHIM), "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines()[-1].startswith("Version: 0.8.")
    assert "+commit." in out.stdout


def test_missing_ptau_file_given_by_the_user_names_the_flag(tmp_path: Path) -> None:
    with pytest.raises(PtauError) as err:
        resolve_ptau(10, tmp_path / "nope.ptau")
    _one_line(str(err.value))
    assert "--ptau" in str(err.value)


def test_no_large_enough_ptau_without_generation_says_where_to_put_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ZKRISK_CACHE", str(tmp_path))
    with pytest.raises(PtauError) as err:
        resolve_ptau(20, generate=False)
    _one_line(str(err.value))
    assert "../shared/ptau" in str(err.value)


def test_shared_dev_ptau_is_found_and_labelled_insecure(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ZKRISK_CACHE", str(tmp_path))
    shared = [d for d, source in ptau_mod.search_dirs() if source == "shared" and d.is_dir()]
    if not shared or not list(shared[-1].glob("*.ptau")):
        pytest.skip("../shared/ptau is not beside this checkout")
    found = resolve_ptau(12, generate=False)
    assert found.source == "shared" and found.dev and found.power >= 12


def test_dev_ptau_is_generated_cached_and_labelled_when_none_is_found(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ZKRISK_CACHE", str(tmp_path))
    monkeypatch.setattr(ptau_mod, "search_dirs", lambda: [(ptau_mod.cache_dir(), "cache")])
    lines: list[str] = []
    made = resolve_ptau(6, log=lines.append)
    assert made.source == "generated" and made.dev
    assert read_ptau_power(made.path) == 6
    assert any("INSECURE" in line for line in lines)
    again = resolve_ptau(6, generate=False)
    assert again.path == made.path and again.source == "cache"
