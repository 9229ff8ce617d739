"""The sweep's typed pieces on their own: SweepOptions, the plan step (no model, nothing evaluated), BaseScores."""

import dataclasses
import inspect
import json

import jax.numpy as jnp
import numpy as np
import pytest

from basinlab.directions import _recipes as D
from basinlab.landscape import BaseScores, BenchmarkSetKey, SweepOptions, landscape, make_plan
from basinlab.landscape._plan import BASE, Grid, chunk_for, plan_blocks
from basinlab.landscape._results import BlockScores
from basinlab.scoring import Benchmark, Scores


def bench(name="bowl"):
    def score_fn(spec, params, data, compute_dtype):
        return Scores(score=jnp.sum(params["w"])[None])

    return Benchmark(name=name, data={}, score_fn=score_fn, n_items=1, metric="m")


THETA0 = {"w": jnp.arange(12, dtype=jnp.float32).reshape(3, 4)}


def test_unknown_option_names_raise_naming_the_valid_ones():
    valid = "chunk_size, compute_dtype, devices, exclude, include, mesh, normalization, perturbation, progress, store"
    with pytest.raises(ValueError, match=f"unknown option\\(s\\) 'chunk_sze' for SweepOptions; valid options: {valid}"):
        SweepOptions(chunk_sze=4)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match=f"'devcies' for SweepOptions.replace; valid options: {valid}"):
        SweepOptions().replace(devcies=None)
    with pytest.raises(ValueError, match="unknown perturbation 'fast'; valid choices: 'auto', 'fused', 'materialized'"):
        SweepOptions(perturbation="fast")
    with pytest.raises(ValueError, match="chunk_size must be a positive integer, got 0"):
        SweepOptions(chunk_size=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        SweepOptions().chunk_size = 3  # type: ignore[misc]


def test_options_are_landscapes_keywords_with_its_defaults():
    params = inspect.signature(landscape).parameters
    for f in dataclasses.fields(SweepOptions):
        assert params[f.name].kind is inspect.Parameter.KEYWORD_ONLY and params[f.name].default == f.default, f.name
    opts = SweepOptions(include=["embed*", "layers.*"], exclude="lm_head", devices=[0])
    assert opts.include == ("embed*", "layers.*") and opts.exclude == ("lm_head",) and opts.devices == (0,)
    assert opts.changed() == ("include", "exclude", "devices")
    # float64 == None in numpy: a None default is compared by identity
    assert SweepOptions(compute_dtype=np.dtype("float64")).changed() == ("compute_dtype",)
    with pytest.raises(ValueError, match=r"'chunk_size', 'store' is set by basin_edges"):
        SweepOptions(store="s", chunk_size=2, mesh="points=1").reserve("basin_edges", ("store", "chunk_size"))
    assert SweepOptions(mesh="points=1").reserve("basin_edges", ("store",)).mesh == "points=1"


def test_blocks_of_a_small_grid():
    grid = Grid(alphas=(-0.01, 0.0, 0.01, 0.02, 0.03))
    blocks = plan_blocks(2, grid, chunk=2)
    assert [(b.name, b.direction, b.start, len(b.coeffs)) for b in blocks] == [
        ("block-00000-000000", 0, 0, 2), ("block-00000-000001", 0, 2, 2), ("block-00000-000002", 0, 4, 1),
        ("block-00001-000000", 1, 0, 2), ("block-00001-000001", 1, 2, 2), ("block-00001-000002", 1, 4, 1)]
    np.testing.assert_array_equal(blocks[1].coefficients(), [[0.01], [0.02]])
    assert grid.zero == 1 and len(grid) == 5 and grid.m == 1
    plane = Grid(alphas=(0.0, 0.5), betas=(-1.0, 0.0, 1.0))
    np.testing.assert_array_equal(plane.points, [[0, -1], [0, 0], [0, 1], [0.5, -1], [0.5, 0], [0.5, 1]])
    assert plane.zero == 1 and [len(b.coeffs) for b in plan_blocks(1, plane, 4)] == [4, 2]
    assert chunk_for(5, None, 1) == 5 and chunk_for(40, None, 1) == 8 and chunk_for(5, 3, 2) == 4


def test_plan_without_a_model():
    """make_plan reads theta0's shapes and values only: the blocks, base, Sweep record and mode."""
    opts = SweepOptions(chunk_size=2, devices=None, normalization="layer")
    plan = make_plan(THETA0, [bench(), bench("tilt")], 2, [-0.01, 0.0, 0.01], None, opts, model_name="toy",
                     compute_dtype=np.dtype("float32"))
    assert [b.name for b in plan.blocks] == ["block-00000-000000", "block-00000-000001",
                                             "block-00001-000000", "block-00001-000001"]
    # theta0's scores: the zero point (index 1) of direction 0's first block, no block of their own
    assert (plan.base.block, plan.base.point) == (0, 1) and plan.base.own.name == BASE
    assert plan.names == ("bowl", "tilt") and plan.chunk == 2 and plan.perturbation == "materialized"
    assert plan.recipes == (D.DirectionRecipe(seed=0, normalization="layer"),)
    sweep = json.loads(plan.sweep.to_json())
    assert sweep["alphas"] == [-0.01, 0.0, 0.01] and sweep["d"] == 12 and sweep["chunk_size"] == 2
    assert json.loads(sweep["directions"][1])[0]["seed"] == 1
    off = make_plan(THETA0, bench(), 1, [0.01, 0.02], None, SweepOptions(), model_name="toy",
                    compute_dtype=np.dtype("float32"))
    assert off.base.block is None and off.base.own.coefficients().tolist() == [[0.0]]
    with pytest.raises(ValueError, match="a 2-D sweep needs pairs of directions"):
        make_plan(THETA0, bench(), 1, [0.0], [0.0], SweepOptions(), model_name="toy", compute_dtype=np.dtype("float32"))
    with pytest.raises(ValueError, match="all directions of one sweep must be of one kind"):
        make_plan(THETA0, bench(), [D.DirectionRecipe(seed=0), D.DirectionRecipe(seed=1, normalization="layer")],
                  [0.0], None, SweepOptions(), model_name="toy", compute_dtype=np.dtype("float32"))


def test_base_scores_keep_one_benchmark_set():
    key = BenchmarkSetKey(model="m", d=1, benchmarks=("a",), compute_dtype="float32", params="p", data=("x",))
    cache = BaseScores()
    scores = {"a": BlockScores(score=np.ones((1, 1), np.float32))}
    assert cache.get(key) is None and cache.key is None
    cache.put(key, scores)
    assert cache.get(key) is scores
    assert cache.get(dataclasses.replace(key, params="other weights")) is None
    other = dataclasses.replace(key, benchmarks=("b",))
    cache.put(other, {})
    assert cache.get(key) is None and cache.key == other
