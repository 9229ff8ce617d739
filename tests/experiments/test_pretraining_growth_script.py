"""experiments/pretraining_growth.py: which checkpoints of a larger size `--match` measures, its bad input."""

import pathlib

import pytest
from scripts import load_script

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "experiments" / "pretraining_growth.py"


growth_script = load_script("experiments/pretraining_growth.py", "basinlab_pretraining_growth")


def test_partners_are_the_checkpoints_nearest_in_val_loss_within_the_gap():
    # the larger run's curve: step 0 (init, never a partner) and its checkpoints every 250 steps
    curve = {"val_steps": [0, 250, 500, 750, 1000], "val_loss": [5.0, 2.30, 2.00, 1.80, 1.70]}
    ref = [(250, 2.60), (500, 2.02), (1000, 1.83), (1500, 1.79), (6000, 1.69)]
    # 2.60 has no checkpoint within 0.05 nats; 1.83 and 1.79 share step 750 (listed once)
    assert growth_script.partners(curve, ref, 250, 0.05) == [500, 750, 1000]
    assert growth_script.partners(curve, ref, 250, 0.0) == []


def test_reference_needs_measured_checkpoints_of_that_size_and_seed():
    res = {"measured": {"tiny-seed0/step500": {"size": "tiny", "seed": 0, "step": 500, "val_loss": 2.0},
                        "tiny-seed0/step250": {"size": "tiny", "seed": 0, "step": 250, "val_loss": 2.4}}}
    assert growth_script.reference(res, "tiny", 0) == [(250, 2.4), (500, 2.0)]
    with pytest.raises(SystemExit, match="no measured tiny checkpoint of seed 1.*--sizes tiny --seeds 1 first"):
        growth_script.reference(res, "tiny", 1)


def test_match_must_be_a_size_not_trained_in_the_same_call(capsys):
    for bad in ("huge", "small"):
        with pytest.raises(SystemExit):
            growth_script.parse(["--sizes", "small", "--match", bad])
        err = capsys.readouterr().err
        assert f"--match: {bad!r} must be a size not trained in this call" in err and "'tiny'" in err
    assert growth_script.parse(["--sizes", "small", "--match", "tiny"]).match == "tiny"
