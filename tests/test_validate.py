"""basinlab._validate: each check names the argument and the bad value, and returns the clean value."""

import math

import numpy as np
import pytest

from basinlab import _validate as validate


def test_array_checks_report_the_first_bad_element():
    assert validate.probability("p", [0.0, 1.0]).dtype == np.float64
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\], got 1.5"):
        validate.probability("p", [0.2, 1.5, 2.0])
    with pytest.raises(ValueError, match=r"q must lie in \(0, 1\), got 0.0"):
        validate.open_unit("q", 0.0)
    with pytest.raises(ValueError, match="sigma must be positive and finite, got inf"):
        validate.positive("sigma", [1.0, math.inf])
    assert validate.nonnegative("r", math.inf) == math.inf
    with pytest.raises(ValueError, match="r must be >= 0, got -1.0"):
        validate.nonnegative("r", -1)
    with pytest.raises(ValueError, match="x must not be NaN"):
        validate.real("x", [1.0, math.nan])


@pytest.mark.parametrize("good, expected", [(3, 3), (3.0, 3), (np.int64(7), 7)])
def test_positive_int_accepts_whole_numbers(good, expected):
    out = validate.positive_int("n", good)
    assert out == expected and type(out) is int


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, "3", None, math.nan])
def test_positive_int_rejects(bad):
    with pytest.raises(ValueError, match=f"n must be a positive integer, got {bad!r}"):
        validate.positive_int("n", bad)


def test_nonnegative_int():
    assert validate.nonnegative_int("k", 0) == 0 and validate.nonnegative_int("k", np.int32(5)) == 5
    for bad in (-1, 1.0, True, "2"):
        with pytest.raises(ValueError, match=f"k must be an integer >= 0, got {bad!r}"):
            validate.nonnegative_int("k", bad)


def test_finite_and_scalars():
    assert validate.finite("alpha", "0.5") == 0.5
    for bad, what in ((math.inf, "finite"), ("x", "a number"), (None, "a number")):
        with pytest.raises(ValueError, match=f"alpha must be {what}"):
            validate.finite("alpha", bad)
    assert validate.nonnegative_scalar("sigma", np.float32(0.25)) == 0.25
    with pytest.raises(TypeError, match="sigma must be a real number"):
        validate.nonnegative_scalar("sigma", True)
    with pytest.raises(ValueError, match="sigma must be a finite number >= 0"):
        validate.nonnegative_scalar("sigma", -0.1)


def test_confidence_choice_and_options():
    assert validate.confidence("confidence", 0.95) == 0.95
    for bad in (0, 1, math.nan, "high"):
        with pytest.raises(ValueError, match="confidence must"):
            validate.confidence("confidence", bad)
    assert validate.choice("kind", "go", ("go", "sam")) == "go"
    with pytest.raises(ValueError, match="unknown kind 'adam'; valid choices: 'go', 'sam'"):
        validate.choice("kind", "adam", ("go", "sam"))
    validate.options("worst_case", {"steps": 5}, ("steps", "alpha"))
    with pytest.raises(ValueError, match="unknown option\\(s\\) 'setps' for worst_case; valid options: alpha, steps"):
        validate.options("worst_case", {"setps": 5}, ("steps", "alpha"))
