"""viz/checks.py: the names a figure may ask of a landscape Dataset, and its theta0 values."""

import numpy as np
import pytest
import xarray as xr

from basinlab.viz import _checks as checks


@pytest.fixture(scope="module")
def ds():
    dims = ("direction", "alpha", "benchmark")
    zeros = np.zeros((2, 3, 2))
    return xr.Dataset({"score": (dims, zeros), "nll": (dims, zeros + 1.0),
                       "base_score": ("benchmark", [0.5, 0.7]), "base_nll": ("benchmark", [2.0, 3.0])},
                      coords={"direction": [0, 1], "alpha": [-0.1, 0.0, 0.1], "benchmark": ["a", "b"]})


def test_check_variable_allows_only_the_curve_variables_the_dataset_holds(ds):
    assert checks.check_variable(ds, "nll") == "nll"
    with pytest.raises(ValueError, match=r"unknown variable 'loss'; valid choices: 'score', 'nll'$"):
        checks.check_variable(ds, "loss")  # a curve variable, but not in this Dataset
    with pytest.raises(ValueError, match=r"valid choices: 'score'$"):
        checks.check_variable(ds, "nll", allowed=("score",))


def test_check_benchmark_defaults_to_the_first_and_names_the_dataset(ds):
    assert checks.check_benchmark(ds, None) == "a"
    assert checks.check_benchmark(ds, np.str_("b")) == "b" and type(checks.check_benchmark(ds, "b")) is str
    with pytest.raises(ValueError, match=r"unknown benchmark \(in Dataset 'm'\) 'c'; valid choices: 'a', 'b'$"):
        checks.check_benchmark(ds, "c", "Dataset 'm'")


def test_check_direction(ds):
    assert checks.check_direction(ds, np.int64(1)) == 1
    with pytest.raises(ValueError, match=r"unknown direction 2; valid choices: 0, 1$"):
        checks.check_direction(ds, 2)


def test_base_values_are_the_theta0_variable_of_the_plotted_one(ds):
    np.testing.assert_array_equal(checks.base_values(ds, "nll"), [2.0, 3.0])
    np.testing.assert_array_equal(checks.base_values(ds, "score"), [0.5, 0.7])
    with pytest.raises(ValueError, match=r"unknown variable 'accuracy'"):
        checks.base_values(ds, "accuracy")
