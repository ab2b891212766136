"""The standard normal CDF: the vectorised Hart approximation against math.erfc and Decimal."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np

from tests.unit.instruments_reference import phi_cdf
from zkrisk.engine.risk.instruments.normal import (
    norm_cdf,
    norm_cdf_array,
    norm_pdf,
    norm_pdf_array,
)


def test_vectorised_cdf_is_within_1e_15_of_erfc_on_a_dense_grid() -> None:
    x = np.linspace(-40.0, 40.0, 400_001)
    exact = np.array([norm_cdf(float(v)) for v in x])
    assert np.max(np.abs(norm_cdf_array(x) - exact)) < 1e-15


def test_vectorised_cdf_keeps_eight_digits_relative_in_the_left_tail() -> None:
    x = np.linspace(-36.0, 0.0, 100_001)
    exact = np.array([norm_cdf(float(v)) for v in x])
    assert np.max(np.abs(norm_cdf_array(x) - exact) / exact) < 1e-8


def test_scalar_cdf_matches_the_exact_series_to_one_ulp() -> None:
    for x in ("-5.5", "-1.3", "0", "0.25", "2.0", "6.1"):
        assert abs(Decimal(norm_cdf(float(x))) - phi_cdf(Decimal(x))) < Decimal("1e-16")


def test_cdf_is_symmetric_and_the_density_matches_its_formula() -> None:
    x = np.linspace(-8, 8, 1001)
    assert np.max(np.abs(norm_cdf_array(x) + norm_cdf_array(-x) - 1.0)) < 1e-15
    assert norm_pdf(0.0) == 1.0 / math.sqrt(2.0 * math.pi)
    assert np.allclose(norm_pdf_array(x), [norm_pdf(float(v)) for v in x], rtol=1e-15, atol=0)
