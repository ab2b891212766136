"""Exposure, leverage and concentration in exact fixed point."""

from __future__ import annotations

from zkrisk.engine.risk.metrics.exposure import (
    concentration_bps,
    exceeds_concentration,
    exposure,
    leverage_bps,
    notional,
)


def test_exposure_splits_long_and_short_and_derives_gross_and_net() -> None:
    e = exposure([notional(3, 100), notional(-2, 50), 0])
    assert (e.long, e.short, e.gross, e.net) == (300, 100, 400, 200)


def test_empty_book_has_zero_exposure() -> None:
    e = exposure([])
    assert (e.gross, e.net) == (0, 0)


def test_leverage_is_gross_over_equity_in_bps_and_none_without_equity() -> None:
    assert leverage_bps(400, 200) == 20_000
    assert leverage_bps(400, 0) is None
    assert leverage_bps(400, -5) is None


def test_concentration_is_each_assets_share_of_gross() -> None:
    assert concentration_bps({"A": 300, "B": -100}) == {"A": 7_500, "B": 2_500}
    assert concentration_bps({"A": 0}) == {"A": 0}


def test_concentration_exactly_at_the_cap_does_not_exceed_and_one_unit_more_does() -> None:
    assert not exceeds_concentration(7_500, 10_000, 7_500)
    assert exceeds_concentration(7_501, 10_000, 7_500)
    assert exceeds_concentration(-7_501, 10_000, 7_500)
