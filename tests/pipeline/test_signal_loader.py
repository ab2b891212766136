"""Strategies are plug-ins: a dotted path, an entry point of zkrisk.strategies, or a shipped name."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from zkrisk.engine.pipeline.signal import SignalConfig, SignalStage, StrategyConfig
from zkrisk.engine.pipeline.strategies import StrategyLoadError, build, resolve
from zkrisk.engine.pipeline.strategies.mean_reversion import MeanReversionStrategy
from zkrisk.engine.pipeline.strategies.momentum import MomentumStrategy

PLUGIN = """
class Quiet:
    def __init__(self, strategy_id, params):
        self.id = strategy_id
        self.params = dict(params)

    def on_quote(self, quote, context):
        return []

    def on_trade(self, trade, context):
        return []


class NotAStrategy:
    def __init__(self, strategy_id, params):
        pass
"""


@pytest.fixture
def plugin_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A real installed-distribution layout on sys.path: a module plus its entry points."""
    (tmp_path / "zk_plugin_strategies.py").write_text(PLUGIN)
    info = tmp_path / "zk_plugin_strategies-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: zk-plugin-strategies\n"
                                   "Version: 1.0\n")  # fmt: skip
    (info / "entry_points.txt").write_text(textwrap.dedent("""\
        [zkrisk.strategies]
        quiet = zk_plugin_strategies:Quiet
        broken = zk_plugin_missing:Nope
        """))  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    sys.modules.pop("zk_plugin_strategies", None)


def test_a_dotted_path_loads_the_class() -> None:
    path = "zkrisk.engine.pipeline.strategies.momentum:MomentumStrategy"
    assert resolve(path) is MomentumStrategy


def test_shipped_short_names_load_the_shipped_strategies() -> None:
    assert resolve("momentum") is MomentumStrategy
    assert resolve("mean_reversion") is MeanReversionStrategy


def test_an_entry_point_of_the_group_loads_a_third_party_strategy(plugin_dist: Path) -> None:
    strategy = build("quiet", "q1", {"level": 3})
    assert strategy.id == "q1" and type(strategy).__name__ == "Quiet"
    stage = SignalStage(SignalConfig(strategies=(StrategyConfig(id="q1", strategy="quiet"),)))
    assert stage.strategy("q1").id == "q1"


def test_a_dotted_path_into_a_plugin_module_works_too(plugin_dist: Path) -> None:
    assert build("zk_plugin_strategies:Quiet", "q2", {}).id == "q2"


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ("no_such_module_xyz:Strategy", "module 'no_such_module_xyz' cannot be imported"),
        ("zkrisk.engine.pipeline.strategies.momentum:Nope", "has no class 'Nope'"),
        ("zkrisk.engine.pipeline.strategies.momentum:", "needs both parts"),
        ("nonsense", "neither a dotted path"),
    ],
)
def test_a_bad_path_is_refused_with_an_error_naming_it(spec: str, says: str) -> None:
    with pytest.raises(StrategyLoadError, match=says) as caught:
        build(spec, "s", {})
    assert repr(spec) in str(caught.value)


def test_an_unknown_name_lists_the_known_ones(plugin_dist: Path) -> None:
    with pytest.raises(StrategyLoadError, match="known names: broken, mean_reversion, momentum"):
        resolve("momentom")


def test_an_entry_point_that_fails_to_load_is_named(plugin_dist: Path) -> None:
    with pytest.raises(StrategyLoadError, match=r"'broken'.*zk_plugin_missing:Nope"):
        resolve("broken")


def test_a_class_without_the_strategy_methods_is_refused(plugin_dist: Path) -> None:
    with pytest.raises(StrategyLoadError, match="lacks id, on_quote or on_trade"):
        build("zk_plugin_strategies:NotAStrategy", "s", {})


def test_bad_strategy_params_name_the_strategy_and_the_field() -> None:
    with pytest.raises(StrategyLoadError, match=r"'mom'.*bad params.*quantity"):
        build("momentum", "mom", {"fast": 2, "slow": 3})
    with pytest.raises(StrategyLoadError, match="extra_forbidden"):
        build("momentum", "mom", {"quantity": "1", "speed": 9})


def test_the_run_config_refuses_two_strategies_with_one_id() -> None:
    with pytest.raises(ValueError, match="repeated: a"):
        SignalConfig(strategies=(StrategyConfig(id="a", strategy="momentum"),
                                 StrategyConfig(id="a", strategy="mean_reversion")))  # fmt: skip
