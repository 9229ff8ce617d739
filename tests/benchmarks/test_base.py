"""The typed outputs of benchmarks: Scores (pytree), Judged and Grades (host records)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from basinlab.scoring._base import Grades, Judged, Scores


def test_scores_is_a_pytree_whose_absent_fields_are_no_leaves():
    s = Scores(score=jnp.ones(3), tokens=jnp.zeros((3, 2), jnp.int32))
    assert len(jax.tree.leaves(s)) == 2
    out = jax.jit(lambda s: s.replace(nll=-s.score))(s)
    assert isinstance(out, Scores) and out.tokens.shape == (3, 2)
    np.testing.assert_array_equal(out.nll, -np.ones(3))
    shapes = jax.eval_shape(lambda x: Scores(score=x), jnp.ones(4))
    assert shapes.score.shape == (4,) and shapes.nll is None


def test_dict_reads_of_the_old_outputs():
    s = Scores(score=np.ones(2))
    assert "score" in s and "nll" not in s and "tokens" not in s and "replace" not in s
    np.testing.assert_array_equal(s["score"], np.ones(2))
    with pytest.raises(KeyError):
        s["nll"]


def test_of_converts_the_old_dict_outputs_and_rejects_unknown_keys():
    s = Scores.of({"score": np.ones(2), "nll": np.zeros(2)})
    assert isinstance(s, Scores) and s.tokens is None and Scores.of(s) is s
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['scores'\]; Scores fields: score, nll, tokens"):
        Scores.of({"scores": np.ones(2)})
    with pytest.raises(TypeError, match="must return basinlab.benchmarks.Scores"):
        Scores.of(np.ones(2))
    j = Judged.of({"score": [1, 0], "reason": ["ok", "no"]})
    assert j.score.dtype.kind == "i" and j.reason.tolist() == ["ok", "no"] and j.example is None
    assert isinstance(Judged.of(Judged(example=["x"])).example, np.ndarray)
    with pytest.raises(ValueError, match="a judge returned unknown key"):
        Judged.of({"reasons": []})


def test_grades_unpack_in_field_order():
    scores, reasons = Grades([1.0], ["ok"])
    assert scores == [1.0] and reasons == ["ok"]
