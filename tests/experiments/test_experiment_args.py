"""The experiment scripts' own checks: bad options fail at once, naming the value and the valid choices."""

import pytest
from scripts import load_script

adversarial = load_script("experiments/adversarial_math.py", "basinlab_adversarial_math")
specific = load_script("experiments/specific_basins.py", "basinlab_specific_basins")


def test_run_labels_keep_seed_zero_under_the_recipe_name():
    assert adversarial.run_label("adversarial", 0) == "adversarial"
    assert adversarial.run_label("normal", 2) == "normal-seed2"


@pytest.mark.parametrize("seeds", ["x", "", "1,-2"])
def test_bad_seeds_fail_before_any_model_loads(seeds, tmp_path):
    with pytest.raises(ValueError, match=r"--seeds .*comma-separated integers"):
        adversarial.main(["--seeds", seeds, "--out", str(tmp_path / "out")])


def test_unknown_runs_are_named_with_the_valid_ones(tmp_path):
    with pytest.raises(ValueError, match=r"--runs 'adversrial': \['adversrial'\]; choose among"):
        specific.main(["--runs", "adversrial", "--out", str(tmp_path / "out")])
