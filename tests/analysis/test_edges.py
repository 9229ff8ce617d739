"""Basin edges by walk and bisection (basinlab.analysis._edges) against the dense grid, on analytic landscapes."""

import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from basinlab.analysis import basin_edges
from basinlab.analysis._edges import edges_on_grid, next_alpha
from basinlab.directions._recipes import regenerate
from basinlab.landscape import DirectionRecipe, SweepOptions, landscape
from basinlab.scoring import Benchmark, Judged
from basinlab.scoring._base import Scores

PRECISION = 5e-4
DENSE = np.round(np.arange(-0.01, 0.01 + 1e-9, PRECISION), 10)  # 41 points, the paper's step


@pytest.fixture(scope="module")
def analytic(tiny_smol):
    """Two benchmarks whose scores are analytic functions of the perturbation theta - theta0, on a
    model whose params are one vector of 4096 (the tiny model's spec, which they never call):
    bowl = 1 - |theta - theta0| / (0.03 sqrt(d)) (symmetric: alpha |delta| / sqrt(d) ~ |alpha|, edge
    near 0.003 at tol 0.1); tilt = 0.5 + 23 * the coordinate along direction 0 (rises on one side)."""
    w = jnp.asarray(np.random.RandomState(0).normal(size=(64, 64)), jnp.float32)
    theta0 = {"embed": {"embedding": w}}  # the one leaf (its name gives model.dtype)
    model = tiny_smol.with_params(theta0)
    u = regenerate(DirectionRecipe(seed=0), theta0)["embed"]["embedding"]
    u_sq = float(jnp.sum(u * u))

    def bowl(spec, params, data, compute_dtype):
        r = jnp.sqrt(jnp.mean((params["embed"]["embedding"].astype(jnp.float32) - w) ** 2))
        return Scores(score=(1.0 - r / 0.03)[None])

    def tilt(spec, params, data, compute_dtype):
        along = jnp.sum((params["embed"]["embedding"].astype(jnp.float32) - w) * u) / u_sq
        return Scores(score=(0.5 + 23.0 * along)[None])

    return model, Benchmark("bowl", {}, bowl, 1, "analytic"), Benchmark("tilt", {}, tilt, 1, "analytic")


@pytest.mark.slow  # ~40 landscape calls and one compilation: about 10 s on this shared 2-core machine
def test_bisection_finds_the_dense_grids_edges_with_fewer_evaluations(analytic, tmp_path):
    model, bowl, tilt = analytic
    dense = landscape(model, [bowl, tilt], directions=2, alphas=DENSE, progress=False, chunk_size=2)
    store = tmp_path / "edges"
    edges = basin_edges(model, [bowl, tilt], directions=2, tol=0.1, precision=PRECISION, max_alpha=0.01,
                        store=store)
    for sided in ("one", "two"):
        grid = dense.basin.width(0.1, sided=sided)
        found = edges if sided == "one" else basin_edges(model, [bowl, tilt], directions=2, tol=0.1,
                                                         precision=PRECISION, max_alpha=0.01, sided="two")
        assert found.attrs["sided"] == sided
        for side in ("left", "right"):
            # low is the last point inside, like the grid's edge: the two agree within precision
            np.testing.assert_allclose(found[side].values, grid[side].values, atol=PRECISION + 1e-12)
            hi = found["high"].sel(side=side).values
            lo = found["low"].sel(side=side).values
            ok = ~found["censored"].sel(side=side).values
            assert np.all(hi[ok] - lo[ok] <= PRECISION + 1e-12) and np.all(np.isnan(hi[~ok]))
    # the bowl has a finite edge near 0.003 on every side; one-sided, tilt rises on the right of
    # direction 0 (censored at max_alpha) and falls on its left (edge 0.1 / 23); two-sided both end
    bowl_edges = edges["low"].sel(benchmark="bowl").values
    assert np.all((bowl_edges > 0.002) & (bowl_edges < 0.004)) and not edges["censored"].sel(benchmark="bowl").any()
    t0 = edges.sel(benchmark="tilt", direction=0)
    assert bool(t0["censored"].sel(side="right")) and float(t0["right"]) == 0.01
    assert float(t0["crossing"].sel(side="left")) == pytest.approx(-0.1 / 23, abs=2e-5)
    assert edges.attrs["n_evaluations"] < dense.sizes["alpha"] * 2  # both benchmarks: still fewer points
    # a rerun finds every point in the store and evaluates nothing
    files = {p: p.stat().st_mtime_ns for p in store.rglob("*.npz")}
    again = basin_edges(model, [bowl, tilt], directions=2, tol=0.1, precision=PRECISION, max_alpha=0.01,
                        store=store)
    assert {p: p.stat().st_mtime_ns for p in store.rglob("*.npz")} == files
    np.testing.assert_array_equal(again["low"].values, edges["low"].values)
    # one benchmark alone: 4-5x fewer evaluations than the 40-point dense grid per direction
    alone = basin_edges(model, bowl, directions=1, tol=0.1, precision=PRECISION, max_alpha=0.01)
    assert np.all(alone["n_evaluations"].values <= 40 / 4)
    # the same walk read off the dense grid: the same edges and the same points, nothing evaluated
    replay = edges_on_grid(dense, tol=0.1, precision=PRECISION)
    for k in ("censored", "n_evaluations", "evaluated"):
        np.testing.assert_array_equal(replay[k].values, edges[k].values, err_msg=k)
    for k in ("low", "high", "edge"):  # grid alphas are rounded, the walk's midpoints computed: 1e-18 apart
        np.testing.assert_allclose(replay[k].values, edges[k].values, atol=1e-12, err_msg=k)
    np.testing.assert_allclose(replay["alpha"].values, edges["alpha"].values, atol=1e-12)
    assert replay.attrs["n_calls"] == edges.attrs["n_calls"]
    alone_replay = edges_on_grid(dense.isel(direction=[0]).sel(benchmark=["bowl"]), tol=0.1, precision=PRECISION)
    np.testing.assert_array_equal(alone_replay["n_evaluations"].values, alone["n_evaluations"].values)


def _grid(scores, alphas, base):
    """A landscape-shaped Dataset: scores [direction, alpha, benchmark]."""
    scores = np.asarray(scores, np.float64)
    return xr.Dataset({"score": (("direction", "alpha", "benchmark"), scores),
                       "base_score": ("benchmark", np.asarray(base, np.float64))},
                      coords={"direction": np.arange(scores.shape[0]), "alpha": alphas,
                              "benchmark": [f"b{k}" for k in range(scores.shape[2])]})


def test_edges_on_grid_reads_the_walk_off_a_dense_grid_and_counts_its_points():
    # score = 1 - |alpha| / 0.02 on the left, 1 - alpha / 0.01 on the right: tol 0.26 puts the edges at
    # -0.005 and +0.0025 (the last grid points inside), and a second benchmark that never drops
    alphas = np.round(np.arange(-0.01, 0.01 + 1e-9, PRECISION), 10)
    drop = np.where(alphas < 0, -alphas / 0.02, alphas / 0.01)
    ds = _grid(np.stack([1.0 - drop, np.ones_like(alphas)], axis=-1)[None], alphas, [1.0, 1.0])
    dense = ds.basin.width(0.26)
    out = edges_on_grid(ds, tol=0.26, precision=PRECISION)
    np.testing.assert_allclose(out["left"].values, dense["left"].values, atol=1e-12)
    np.testing.assert_allclose(out["right"].values, dense["right"].values, atol=1e-12)
    assert out["left"].sel(benchmark="b0").item() == pytest.approx(-0.005)
    assert out["right"].sel(benchmark="b0").item() == pytest.approx(0.0025)
    assert out["censored"].sel(benchmark="b1").all() and out["width"].sel(benchmark="b1").item() == 0.02
    n = int(out["n_evaluations"][0])
    # b0 left: 0.002, 0.004, 0.008 (out), 0.006 (out), 0.005, 0.0055 (out); right: 0.002, 0.004 (out),
    # 0.003 (out), 0.0025: 10 points, 4x fewer than the 40 of the dense grid
    only_b0 = edges_on_grid(ds.sel(benchmark=["b0"]), tol=0.26, precision=PRECISION)
    assert int(only_b0["n_evaluations"][0]) == 10
    assert n == 13  # b1 walks on to the grid's end: 0.01 on both sides and 0.008 on the right


def test_edges_on_grid_bad_input_names_the_value():
    alphas = np.round(np.arange(-0.01, 0.01 + 1e-9, 0.002), 10)  # coarser than the precision asked for
    ds = _grid(np.ones((1, alphas.size, 1)) - np.abs(alphas)[None, :, None] * 50, alphas, [1.0])
    with pytest.raises(ValueError, match=r"needs alpha=-0\.003, which is not on ds's alpha grid.*11 points.*finer"):
        edges_on_grid(ds, tol=0.1, precision=PRECISION, start=0.002)
    with pytest.raises(ValueError, match="holding 'nll'"):
        edges_on_grid(ds, variable="nll")
    with pytest.raises(ValueError, match="dims direction, alpha, benchmark"):
        edges_on_grid(ds.isel(direction=0))
    with pytest.raises(ValueError, match=r"reach both sides of 0.*\[0, 0\.01\]"):
        edges_on_grid(ds.sel(alpha=slice(0, None)))
    with pytest.raises(ValueError, match="unknown sided 'both'"):
        edges_on_grid(ds, sided="both")


def test_edges_on_grid_last_bracket_and_a_max_alpha_just_past_the_grid():
    # np.arange ends 1.7e-17 short of 0.01: max_alpha=0.01 is that grid point, not a point it lacks
    alphas = np.arange(-0.01, 0.01 + 5e-4, 1e-3)
    ds = _grid(np.ones((1, alphas.size, 1)), alphas, [1.0])  # flat: every walk is censored at max_alpha
    out = edges_on_grid(ds, tol=0.1, precision=1e-3, max_alpha=0.01)
    assert out["censored"].all() and out["width"].item() == pytest.approx(0.02)
    # on [-0.03, 0.03] at step 5e-4 the last bracket [0.016, 0.03] is 28 steps wide: its bisection
    # leaves the grid, and the error says so instead of the wrong advice of a grid of step precision
    alphas = np.round(np.arange(-0.03, 0.03 + 1e-9, PRECISION), 10)
    ds = _grid((1.0 - (np.abs(alphas) > 0.0213))[None, :, None], alphas, [1.0])
    with pytest.raises(ValueError, match=r"needs alpha=-0\.02125.*not the grid step times a power of 2"):
        edges_on_grid(ds, tol=0.1, precision=PRECISION)
    low = edges_on_grid(ds, tol=0.1, precision=PRECISION, max_alpha=0.024)["low"]  # [0.016, 0.024]: 16 steps
    assert low.values.tolist() == [[[0.021], [0.021]]]


def test_next_alpha_walks_then_bisects():
    args = dict(tol=0.1, precision=0.01, start=0.02, growth=2.0, max_alpha=0.5)
    assert next_alpha([], **args) == (0.02, 0.0, None)
    assert next_alpha([(0.02, 0.0)], **args) == (0.04, 0.02, None)
    assert next_alpha([(0.02, 0.0), (0.04, 0.5)], **args) == (0.03, 0.02, 0.04)
    assert next_alpha([(0.02, 0.0), (0.03, 0.05), (0.04, 0.5)], **args) == (None, 0.03, 0.04)
    # a NaN point is outside; points beyond the first outside are ignored; a rise is inside (negative drop)
    assert next_alpha([(0.02, float("nan")), (0.04, 0.0)], **args) == (0.01, 0.0, 0.02)
    assert next_alpha([(0.02, -0.3)], **args)[1] == 0.02
    assert next_alpha([(0.5, 0.0)], **args) == (None, 0.5, None)  # censored at max_alpha
    assert next_alpha([(0.4, 0.0)], **args)[0] == 0.5  # the last rung is max_alpha itself


def test_bad_arguments_name_the_value(analytic):
    model, bowl, _ = analytic
    for kwargs, match in [(dict(sided="both"), "unknown sided 'both'"), (dict(precision=0.0), "precision must be > 0"),
                          (dict(variable="loss"), "unknown variable 'loss'"), (dict(growth=1.0), "growth must be > 1"),
                          (dict(start=0.5, max_alpha=0.1), "need 0 < start <= max_alpha"),
                          (dict(options=SweepOptions(store="s")), "'store' is set by basin_edges"),
                          (dict(directions=[]), "directions"),
                          (dict(options=SweepOptions(chunk_size=3)), "'chunk_size' is set by basin_edges")]:
        with pytest.raises(ValueError, match=match):
            basin_edges(model, bowl, **kwargs)
    with pytest.raises(TypeError, match="basin_edges: options must be a basinlab.SweepOptions"):
        basin_edges(model, bowl, options={"compute_dtype": "float32"})  # type: ignore[arg-type]


def test_theta0_is_evaluated_once_across_the_walks_calls_and_options_reach_them(analytic):
    """One BaseScores for all of basin_edges' landscape calls: the judge runs once per evaluated
    point plus once for theta0; the options' normalization shapes the count's recipes."""
    model, bowl, _ = analytic
    calls = []
    counting = Benchmark("bowl", {}, bowl.score_fn, 1, "analytic",
                         judge=lambda out: calls.append(1) or Judged(score=np.asarray(out.score)))
    edges = basin_edges(model, counting, directions=1, max_alpha=0.01,
                        options=SweepOptions(compute_dtype="float32", progress=True))
    assert edges.attrs["n_calls"] > 2 and len(calls) == edges.attrs["n_evaluations"] + 1
    plain = basin_edges(model, bowl, directions=1, max_alpha=0.01)
    np.testing.assert_array_equal(edges["low"].values, plain["low"].values)
    layered = basin_edges(model, bowl, directions=1, max_alpha=0.01, options=SweepOptions(normalization="layer"))
    assert not np.array_equal(layered["score"].values, plain["score"].values, equal_nan=True)
