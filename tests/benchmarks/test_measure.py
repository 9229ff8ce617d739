"""A benchmark's unperturbed score with its interval."""

import types

import numpy as np

import basinlab.benchmarks as B
from basinlab.scoring._base import Benchmark, Judged, Scores
from basinlab.stats import clopper_pearson

MODEL = types.SimpleNamespace(spec=None, params={"w": np.float32(1.0)}, compute_dtype=None)


def fixed(score, nll=None, legacy=False):
    def score_fn(spec, params, data, compute_dtype):
        out = {"score": params["w"] * data["score"]}
        if nll is not None:
            out["nll"] = data["nll"]
        return out if legacy else Scores(**out)

    data = {"score": np.asarray(score, np.float32)} | ({} if nll is None else {"nll": np.asarray(nll, np.float32)})
    return score_fn, data


def test_binary_items_get_a_clopper_pearson_interval_and_a_chance_verdict():
    fn, data = fixed([1, 0, 1, 1], nll=[0.5, 1.5, 0.5, 0.5])
    m = B.measure(MODEL, Benchmark("toy", data, fn, 4, "acc", chance=0.25), confidence=0.9)
    lo, hi = clopper_pearson(3, 4, 0.9)
    assert (m.score, m.n, m.lower, m.upper, m.nll) == (0.75, 4, float(lo), float(hi), 0.75)
    assert lo < 0.25 and m.near_chance is True and m.reasons is None and m.examples is None
    fn, data = fixed([1] * 10)
    assert B.measure(MODEL, Benchmark("toy", data, fn, 10, "acc", chance=0.25)).near_chance is False
    at_zero = B.measure(MODEL, Benchmark("toy", data, fn, 4, "acc", chance=0.25), params={"w": np.float32(0.0)})
    assert at_zero.score == 0.0 and at_zero.near_chance is True


def test_fractional_items_have_no_interval_and_lower_is_better_flips():
    fn, data = fixed([0.2, 0.4], legacy=True)  # a score function of basinlab < 0.2 returns a dict
    m = B.measure(MODEL, Benchmark("toy", data, fn, 2, "rate", higher_is_better=False))
    assert m.lower is None and m.near_chance is None and m.nll is None
    np.testing.assert_allclose(m.item_scores, [0.8, 0.6])


def test_the_judge_replaces_the_score_and_brings_reasons_and_examples():
    fn, data = fixed([0, 0])

    def judge(out):
        assert isinstance(out, Scores) and isinstance(out.score, np.ndarray)
        return Judged(score=np.asarray([1.0, 0.0]), reason=np.asarray(["ok", "no"]), example=np.asarray(["x"]))

    m = B.measure(MODEL, Benchmark("toy", data, fn, 2, "acc", judge=judge))
    assert m.score == 0.5 and m.reasons == ["ok", "no"] and m.examples == ["x"]
