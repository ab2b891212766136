"""Which ptau a setup gets: never one some other process happened to leave in the cache.

The foreign ptau files are real (truncations of the shared dev ptau), planted into this test's
own cache folder.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from zkrisk.prover import ptau as ptau_mod
from zkrisk.prover.ptau import PtauError, resolve_ptau

from .ptau_files import half_written, shared_pot14, truncated_ptaus


@pytest.fixture(scope="module")
def truncated(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    return truncated_ptaus(tmp_path_factory.mktemp("truncated"))


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("ZKRISK_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("ZKRISK_PTAU_DIRS", raising=False)
    folder = ptau_mod.cache_dir()
    folder.mkdir(parents=True)
    return folder


def test_a_foreign_dev_ptau_in_the_cache_does_not_shadow_the_shared_one(
    cache: Path, truncated: dict[int, Path]
) -> None:
    shutil.copy(truncated[12], cache / "dev_pot12.ptau")  # what `make demo` elsewhere leaves
    found = resolve_ptau(12, generate=False)
    assert (found.source, found.power, found.path) == ("shared", 14, shared_pot14())


def test_folders_the_user_names_come_before_shared_and_cache(
    cache: Path, truncated: dict[int, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    named = tmp_path / "named"
    named.mkdir()
    shutil.copy(truncated[13], named / "ceremony13.ptau")
    shutil.copy(truncated[12], cache / "dev_pot12.ptau")
    monkeypatch.setenv("ZKRISK_PTAU_DIRS", str(named))
    found = resolve_ptau(12, generate=False)
    assert found.path == named / "ceremony13.ptau" and found.power == 13


def test_a_ptau_given_explicitly_is_used_whatever_the_cache_holds(
    cache: Path, truncated: dict[int, Path]
) -> None:
    shutil.copy(truncated[12], cache / "dev_pot12.ptau")
    found = resolve_ptau(12, truncated[13], generate=False)
    assert (found.source, found.path) == ("user", truncated[13])


def test_hidden_partial_and_unparsable_files_in_the_cache_are_skipped_with_a_warning(
    cache: Path,
    truncated: dict[int, Path],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(ptau_mod, "search_dirs", lambda: [(ptau_mod.cache_dir(), "cache")])
    half_written(truncated[13], cache / ".dev_pot13.4242_2.ptau")  # generation in progress
    half_written(truncated[13], cache / "broken.ptau")  # a visible file cut short
    (cache / "notes.ptau").write_text("not a ptau at all\n")
    shutil.copy(truncated[12], cache / "dev_pot12.ptau")
    found = resolve_ptau(12, generate=False)
    assert (found.path, found.power, found.source) == (cache / "dev_pot12.ptau", 12, "cache")
    err = capfd.readouterr().err
    assert f"warning: skipping {cache / 'broken.ptau'}" in err
    assert f"warning: skipping {cache / 'notes.ptau'}" in err
    assert ".dev_pot13" not in err  # hidden work in progress is not even opened


def test_an_explicit_ptau_cut_short_is_a_clear_error(
    tmp_path: Path, truncated: dict[int, Path]
) -> None:
    cut = tmp_path / "cut.ptau"
    half_written(truncated[12], cut)
    with pytest.raises(PtauError, match="--ptau"):
        resolve_ptau(12, cut, generate=False)
