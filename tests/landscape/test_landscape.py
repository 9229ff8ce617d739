"""The landscape engine: analytic truth, compile-once, theta0 untouched, devices, resume, I/O, errors."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from basinlab.directions import _recipes as D
from basinlab.landscape import BaseScores, SweepOptions, landscape, parse_grid
from basinlab.landscape import _results as results
from basinlab.landscape._results import open_dataset, save
from basinlab.scoring import Benchmark, Judged, Scores, token_benchmark

HERE = os.path.dirname(__file__)


@pytest.fixture(scope="module")
def model(tiny_smol):
    return tiny_smol


@pytest.fixture(scope="module")
def text(model):
    tokens = np.random.RandomState(0).randint(3, model.spec.vocab_size, size=(4, 24))
    return token_benchmark(tokens, name="text")


def quadratic_benchmark(h, c):
    """score = nll = L(theta) = sum_i h_i (theta_i - c_i)^2 / 2 over all leaves (one item)."""

    def score_fn(spec, params, data, compute_dtype):
        leaves = jax.tree.leaves(params)
        loss = sum(jnp.sum(hh * (p.astype(jnp.float32) - cc) ** 2) / 2 for p, hh, cc in zip(leaves, h, c, strict=True))
        return Scores(score=loss[None], nll=loss[None])

    return Benchmark(name="bowl", data={}, score_fn=score_fn, n_items=1, metric="quadratic",
                     higher_is_better=False)


def test_quadratic_bowl_matches_trace_of_hessian(model):
    """E L(theta + alpha z) = L(theta) + alpha^2 tr(H) / 2 for z ~ N(0, I)."""
    leaves = jax.tree.leaves(model.params)
    rs = np.random.RandomState(0)
    h = [jnp.asarray(rs.uniform(0.5, 2.0, x.shape), jnp.float32) for x in leaves]
    c = [jnp.asarray(x, jnp.float32) + 0.01 for x in leaves]
    trace = float(sum(x.sum() for x in h))
    alphas = np.array([0.0, 0.01, 0.02])
    ds = landscape(model, quadratic_benchmark(h, c), directions=24, alphas=alphas, progress=False)
    base = float(ds["base_score"].sel(benchmark="bowl"))
    mean = ds["score"].sel(benchmark="bowl").mean("direction").values
    expected = base + alphas**2 * trace / 2
    # Monte Carlo: Var L(theta + a z) ~ a^4 sum h^2 / 2 + a^2 sum (h (theta - c))^2; 24 draws.
    sd = np.sqrt(alphas**4 * sum(float((x**2).sum()) for x in h) / 2
                 + alphas**2 * sum(float(((hh * 0.01) ** 2).sum()) for hh in h)) / np.sqrt(24)
    assert np.all(np.abs(mean - expected) <= 4 * sd + 1e-3 * expected)
    assert mean[2] > mean[1] > base


def test_compiles_once_and_theta0_is_untouched(model, text, caplog):
    before = jax.tree.map(lambda x: np.array(x, copy=True), model.params)
    bowl = quadratic_benchmark([jnp.ones(x.shape) for x in jax.tree.leaves(model.params)],
                               [jnp.zeros(x.shape) for x in jax.tree.leaves(model.params)])
    with jax.log_compiles(), caplog.at_level("WARNING"):
        ds = landscape(model, [text, bowl], directions=3, alphas=np.linspace(-0.05, 0.05, 7),
                       chunk_size=2, progress=False)
    compiles = [r for r in caplog.records if "Compiling jit(landscape_sweep)" in r.getMessage()]
    # 3 directions x 4 blocks + the base block, all through one compiled program
    assert len(compiles) == 1, f"the sweep program compiled {len(compiles)} times"
    caplog.clear()
    with jax.log_compiles(), caplog.at_level("WARNING"):
        landscape(model, [text, bowl], directions=[D.DirectionRecipe(seed=9)], alphas=[0.3, -0.2],
                  chunk_size=2, progress=False)
    again = [r for r in caplog.records if "Compiling jit(landscape_sweep)" in r.getMessage()]
    assert not again, "a new grid and new seeds recompiled the sweep program"
    after = jax.tree.map(np.asarray, model.params)
    for a, b in zip(jax.tree.leaves(before), jax.tree.leaves(after), strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b), "theta0 changed"
    assert ds["score"].dims == ("direction", "alpha", "benchmark")
    assert ds.sizes == {"direction": 3, "alpha": 7, "benchmark": 2, "item": 4}
    # alpha = 0 reproduces the base score exactly
    at0 = ds["score"].sel(alpha=0.0, method="nearest")
    np.testing.assert_allclose(at0.values, np.broadcast_to(ds["base_score"].values, at0.shape), rtol=1e-6)


def test_matches_explicit_perturbation(model, text):
    """The engine's point equals scoring theta0 + alpha * delta computed by hand."""
    recipe = D.DirectionRecipe(seed=5)
    delta = D.regenerate(recipe, model.params)
    alpha = 0.03
    theta = jax.tree.map(lambda t, d: t + alpha * d, model.params, delta)
    expected = text.score_fn(model.spec, theta, text.data, jnp.float32)
    ds = landscape(model, text, directions=[recipe], alphas=[alpha], progress=False)
    np.testing.assert_allclose(ds["item_score"].values[0, 0, 0], expected["score"], atol=1e-6)
    ds2 = landscape(model, text, directions=[delta], alphas=[alpha], progress=False)
    np.testing.assert_allclose(ds2["nll"].values, ds["nll"].values, rtol=1e-6)


def test_two_dimensional_grid(model, text):
    ds = landscape(model, text, directions=[(D.DirectionRecipe(seed=0), D.DirectionRecipe(seed=1))],
                   alphas=[-0.02, 0.0, 0.02], betas=[0.0, 0.04], progress=False)
    assert ds["score"].dims == ("direction", "alpha", "beta", "benchmark")
    assert ds["score"].shape == (1, 3, 2, 1)
    np.testing.assert_allclose(ds["score"].sel(alpha=0.0, beta=0.0).values.ravel(), ds["base_score"].values,
                               rtol=1e-6)


def test_nonfinite_scores_are_nan_and_flagged(model, text):
    # The bowl's loss overflows float32 at alpha = 1e30: stored as NaN, counted, no crash.
    bowl = quadratic_benchmark([jnp.ones(x.shape) for x in jax.tree.leaves(model.params)],
                               [jnp.zeros(x.shape) for x in jax.tree.leaves(model.params)])
    ds = landscape(model, [text, bowl], directions=1, alphas=[0.0, 1e30], progress=False)
    assert np.isnan(ds["nll"].sel(alpha=1e30, benchmark="bowl").values).all()
    assert ds.attrs["nonfinite_points"] > 0
    assert np.isfinite(ds["nll"].sel(alpha=0.0).values).all()
    assert np.isfinite(ds["loss"].sel(benchmark="text").values).all()


def test_netcdf_round_trip(model, text, tmp_path):
    ds = landscape(model, text, directions=2, alphas=[-0.01, 0.0, 0.01], progress=False)
    save(ds, tmp_path / "out" / "ls.nc")
    back = open_dataset(tmp_path / "out" / "ls.nc")
    xr.testing.assert_identical(ds, back)
    assert json.loads(back.attrs["sweep"])["alphas"] == [-0.01, 0.0, 0.01]
    assert back.attrs["d"] == model.n_params


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(alphas=[]), "alpha grid is empty"),
        (dict(alphas=[0.0, np.nan]), "non-finite"),
        (dict(directions=0), "directions must be >= 1"),
        (dict(directions=[]), "no directions"),
        (dict(chunk_size=0), "chunk_size must be a positive integer, got 0"),
        (dict(chunk_size=2.5), "chunk_size must be a positive integer, got 2.5"),
    ],
)
def test_bad_input(model, text, kwargs, match):
    with pytest.raises(ValueError, match=match):
        landscape(model, text, **{"directions": 1, "alphas": [0.0], "progress": False, **kwargs})


def test_mismatched_direction_pytree(model, text):
    bad = jax.tree.map(jnp.zeros_like, model.params)
    bad["final_norm"]["scale"] = jnp.zeros(3)
    with pytest.raises(ValueError, match="final_norm"):
        landscape(model, text, directions=[bad], alphas=[0.0], progress=False)


def _judge(out):
    """A host judge: item passes when its next-token accuracy exceeds 0.05."""
    return Judged(score=(out.score > 0.05).astype(np.float32), reason=np.asarray([f"r{i}" for i in range(4)]),
                  example=np.asarray(["first", "second"]))


def test_typed_blocks_in_the_store_and_a_resume_from_it(model, text, tmp_path):
    judged = Benchmark(name="judged", data=text.data, score_fn=text.score_fn, n_items=4, metric="m", judge=_judge)
    kw = dict(directions=2, alphas=[0.0, 0.02, 0.04], chunk_size=2, progress=False)
    ds = landscape(model, [text, judged], store=tmp_path / "s", **kw)
    # one array per produced field, named "<benchmark>|<field>" (the store format of basinlab 0.1)
    with np.load(tmp_path / "s" / "base.npz") as f:
        assert sorted(f) == ["judged|example", "judged|nll", "judged|reason", "judged|score", "text|nll", "text|score"]
        assert f["judged|example"].tolist() == [["first", "second"]] and f["text|score"].dtype == np.float32
    np.testing.assert_array_equal(ds["item_score"].sel(benchmark="judged"),
                                  (ds["item_score"].sel(benchmark="text") > 0.05).astype(np.float32))
    assert ds["base_item_reason"].sel(benchmark="judged").values.tolist() == ["r0", "r1", "r2", "r3"]
    assert ds["base_item_reason"].sel(benchmark="text").values.tolist() == [""] * 4
    assert ds["example_output"].dims == ("direction", "alpha", "benchmark", "example")
    # a second run reads every block back from the store: the same Dataset, and no judge call
    calls = []
    counting = Benchmark(name="judged", data=text.data, score_fn=text.score_fn, n_items=4, metric="m",
                         judge=lambda out: calls.append(1) or _judge(out))
    again = landscape(model, [text, counting], store=tmp_path / "s", **kw)
    assert not calls
    ds.attrs.pop("created_at"), again.attrs.pop("created_at")
    xr.testing.assert_identical(ds, again)


@pytest.mark.parametrize("alphas", [[-0.02, 0.0, 0.02], [0.01, 0.02, 0.03]])
def test_base_is_the_grid_zero_point_without_an_extra_call(model, text, tmp_path, alphas):
    """With 0 on the grid the base scores are direction 0's zero point (theta0 + 0 * delta == theta0
    bitwise), so no call regenerates a direction for one point; without 0, the base costs one call."""
    points = []
    counting = Benchmark(name="judged", data=text.data, score_fn=text.score_fn, n_items=4, metric="m",
                         judge=lambda out: points.append(1) or _judge(out))
    ds = landscape(model, [text, counting], directions=2, alphas=alphas, chunk_size=3, progress=False,
                   store=tmp_path / "s")
    assert len(points) == 6 + (0.0 not in alphas)  # the judge runs once per evaluated point
    assert (tmp_path / "s" / "base.npz").exists()
    direct = np.asarray(text.score_fn(model.spec, model.params, text.data, jnp.float32).score)
    with np.load(tmp_path / "s" / "base.npz") as f:
        np.testing.assert_allclose(f["text|score"][0], direct, rtol=1e-6)
        if 0.0 in alphas:  # bitwise the zero point of both directions
            for d in range(2):
                np.testing.assert_array_equal(ds["item_score"].sel(benchmark="text", alpha=0.0, direction=d)
                                              .values[:4], f["text|score"][0])
    np.testing.assert_allclose(float(ds["base_score"].sel(benchmark="text")), direct.mean(), rtol=1e-6)
    # resumed from the store, the base is read back: no point is evaluated again
    points.clear()
    again = landscape(model, [text, counting], directions=2, alphas=alphas, chunk_size=3, progress=False,
                      store=tmp_path / "s")
    assert not points
    np.testing.assert_array_equal(again["base_score"], ds["base_score"])


def test_base_cache_evaluates_theta0_once_across_calls(model, text, tmp_path):
    """basin_edges' many small sweeps: theta0 is evaluated by the first call only, and a call with
    another benchmark set evaluates its own base and replaces the cached one."""
    points = []
    counting = Benchmark(name="judged", data=text.data, score_fn=text.score_fn, n_items=4, metric="m",
                         judge=lambda out: points.append(1) or _judge(out))
    cache = BaseScores()
    first = landscape(model, [text, counting], directions=1, alphas=[0.01], progress=False, base_cache=cache)
    assert len(points) == 2  # theta0 and one point
    key = cache.key
    assert key is not None and key.benchmarks[1] == json.dumps(counting.attrs(), sort_keys=True)
    points.clear()
    second = landscape(model, [text, counting], directions=1, alphas=[0.02, 0.03], base_cache=cache,
                       options=SweepOptions(progress=False, store=tmp_path / "s"))
    assert len(points) == 2  # the two points only
    xr.testing.assert_identical(second["base_score"], first["base_score"])
    assert (tmp_path / "s" / "base.npz").exists()  # the store still holds its base: a resume reads it back
    uncached = landscape(model, [text, counting], directions=1, alphas=[0.02, 0.03], progress=False)
    xr.testing.assert_identical(second["score"], uncached["score"])
    points.clear()
    other = Benchmark(name="judged-again", data=text.data, score_fn=text.score_fn, n_items=4, metric="m",
                      judge=lambda out: points.append(1) or _judge(out))
    landscape(model, [other], directions=1, alphas=[0.01], progress=False, base_cache=cache)
    assert len(points) == 2  # another benchmark set: theta0 evaluated again
    assert cache.key != key and cache.key is not None and len(cache.key.benchmarks) == 1  # and replaced
    with pytest.raises(TypeError, match="base_cache must be a basinlab.landscape.BaseScores"):
        landscape(model, [other], directions=1, alphas=[0.01], progress=False, base_cache={})  # type: ignore


def test_options_object_or_keywords_not_both(model, text):
    """options= gives the same Dataset as the keywords it holds; the two together raise, naming the keyword."""
    kw = dict(directions=1, alphas=[0.0, 0.01])
    by_keywords = landscape(model, text, chunk_size=1, progress=False, **kw)
    by_options = landscape(model, text, options=SweepOptions(chunk_size=1, progress=False), **kw)
    by_keywords.attrs.pop("created_at"), by_options.attrs.pop("created_at")
    xr.testing.assert_identical(by_keywords, by_options)
    with pytest.raises(ValueError, match=r"keyword option\(s\) \['chunk_size'\]"):
        landscape(model, text, chunk_size=2, options=SweepOptions(progress=False), **kw)
    with pytest.raises(TypeError, match="options must be a basinlab.SweepOptions"):
        landscape(model, text, options={"chunk_size": 2}, **kw)  # type: ignore[arg-type]


def test_interrupted_sweep_frees_its_store_and_a_rerun_resumes(model, text, tmp_path):
    """A KeyboardInterrupt (Jupyter's stop button) mid-sweep: while its traceback is still held (a
    notebook keeps it), the store's lock is free; a rerun computes only the missing blocks and gives
    the uninterrupted Dataset."""
    import fcntl

    calls = []

    def judge(out, stop_at=None):
        calls.append(1)
        if len(calls) == stop_at:
            raise KeyboardInterrupt
        return _judge(out)

    def bench(stop_at=None):
        return Benchmark(name="judged", data=text.data, score_fn=text.score_fn, n_items=4, metric="m",
                         judge=lambda out: judge(out, stop_at))

    kw = dict(directions=2, alphas=[0.0, 0.02, 0.04], chunk_size=2, progress=False)  # 4 blocks
    store = tmp_path / "s"
    # judge calls, one per point: block-00000-000000 1-2 (its alpha 0 is the base), then the 3rd is
    # in block-00000-000001
    with pytest.raises(KeyboardInterrupt) as interrupted:
        landscape(model, [text, bench(stop_at=3)], store=store, **kw)
    assert sorted(p.name for p in store.glob("*.npz")) == ["base.npz", "block-00000-000000.npz"]
    with open(store / ".lock") as f:  # another open file: conflicts with any holder, this process too
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if still held
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
    assert interrupted.tb is not None  # the traceback (and the sweep's frame) was alive above
    calls.clear()
    resumed = landscape(model, [text, bench()], store=store, **kw)
    assert len(calls) == 1 + 2 + 1  # the three blocks not stored: 1, 2 and 1 points
    clean = landscape(model, [text, bench()], **kw)
    resumed.attrs.pop("created_at"), clean.attrs.pop("created_at")
    xr.testing.assert_identical(resumed, clean)


def test_a_store_is_resumed_only_with_the_same_weights_directions_and_data(model, text, tmp_path):
    """Names are not enough: other weights under the model's name, another explicit direction, or
    other tokens under the benchmark's name are a different sweep, named in the error."""
    kw = dict(alphas=[0.0, 0.02], chunk_size=2, progress=False)
    landscape(model, text, directions=1, store=tmp_path / "a", **kw)
    moved = model.with_params(jax.tree.map(lambda x: x * 1.01, model.params))
    with pytest.raises(ValueError, match=r"different sweep \(it differs in \['params'\]\)"):
        landscape(moved, text, directions=1, store=tmp_path / "a", **kw)
    other = token_benchmark(np.asarray(text.data["tokens"])[:, ::-1].copy(), name="text")
    with pytest.raises(ValueError, match=r"differs in \['data'\]"):
        landscape(model, other, directions=1, store=tmp_path / "a", **kw)
    first, second = (D.regenerate(D.DirectionRecipe(seed=s), model.params) for s in (0, 1))
    landscape(model, text, directions=[first], store=tmp_path / "b", **kw)
    with pytest.raises(ValueError, match=r"differs in \['directions'\]"):
        landscape(model, text, directions=[second], store=tmp_path / "b", **kw)
    assert landscape(model, text, directions=[first], store=tmp_path / "b", **kw).sizes["direction"] == 1


def test_block_arrays_round_trip():
    block = {"a": results.BlockScores(score=np.ones((2, 3), np.float32), reason=np.asarray([["x"] * 3] * 2)),
             "b|c": results.BlockScores(score=np.zeros((2, 1), np.float32), nll=np.ones((2, 1), np.float32))}
    arrays = results.block_arrays(block)
    assert sorted(arrays) == ["a|reason", "a|score", "b|c|nll", "b|c|score"]
    back = results.block_from_arrays({**arrays, "z|score": np.ones(1)}, ["a", "b|c"])
    assert sorted(back) == ["a", "b|c"] and back["a"].nll is None and back["a"].example is None
    assert back["b|c"].nll is arrays["b|c|nll"] and back["a"].reason is arrays["a|reason"]


def test_parse_grid():
    g = parse_grid("-0.01:0.01:5e-4")
    assert len(g) == 40 and g[0] == -0.01
    assert list(parse_grid("0,0.5")) == [0.0, 0.5]
    with pytest.raises(ValueError, match="start:stop:step"):
        parse_grid("a:b")


RUNNER = textwrap.dedent(
    """
    import sys
    import numpy as np, jax
    sys.path.insert(0, {here!r})
    from mesh_runner import setup
    from basinlab.landscape import landscape
    from basinlab.landscape._results import save
    model, text, kw = setup({folder!r}, directions=3, n_alphas=6)
    ds = landscape(model, text, store=sys.argv[1], **kw)
    save(ds, sys.argv[2])
    """
)


@pytest.fixture(scope="module")
def runner(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("runner") / "run.py"
    path.write_text(RUNNER.format(here=HERE, folder=model.source))
    return path


@pytest.mark.slow  # subprocess sweeps killed and resumed
def test_resume_after_sigkill_gives_identical_dataset(runner, model, tmp_path):
    """SIGKILL at random moments (seeded): inside a judge call, then from outside after a random delay
    (during the imports, a compilation, a block or a store write); the resumed sweep equals a clean one."""
    import random

    rng = random.Random("kill-sweep")
    store, killed_nc, clean_nc = tmp_path / "store", tmp_path / "a.nc", tmp_path / "b.nc"
    # The judge runs once per grid point: 1 (base) + 3 directions x 6 alphas = 19 calls in all.
    env = {**os.environ, "KILL_AFTER": str(rng.randint(4, 16))}
    first = subprocess.run([sys.executable, str(runner), str(store), str(killed_nc)], env=env,
                           capture_output=True, text=True, timeout=600)
    assert first.returncode == -9, first.stderr[-3000:]
    done = sorted(p.name for p in store.glob("block-*.npz"))
    assert len(done) < 6, done  # stopped part-way
    second = subprocess.Popen([sys.executable, str(runner), str(store), str(killed_nc)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        second.wait(timeout=rng.uniform(1.0, 12.0))
    except subprocess.TimeoutExpired:
        second.send_signal(signal.SIGKILL)
    assert second.wait(timeout=600) in (0, -9), second.stderr.read()[-3000:]
    assert len(sorted(p.name for p in store.glob("block-*.npz"))) >= len(done), "a kill lost a block"
    resumed = subprocess.run([sys.executable, str(runner), str(store), str(killed_nc)],
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # The clean sweep runs here, through the runner's own setup: the same compiled programs, so the
    # numbers must agree bit for bit.
    sys.path.insert(0, HERE)
    import mesh_runner

    model, text, kw = mesh_runner.setup(model.source, directions=3, n_alphas=6)
    save(landscape(model, text, store=tmp_path / "fresh", **kw), clean_nc)
    a, b = open_dataset(killed_nc), open_dataset(clean_nc)
    a.attrs.pop("created_at"), b.attrs.pop("created_at")
    xr.testing.assert_identical(a, b)
