"""Basin widths of models (basinlab.analysis._basins): one model on held-out tokens, several centres."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from basinlab.analysis import _basins as basins
from basinlab.landscape import SweepOptions, landscape
from basinlab.models import forward
from basinlab.scoring._text import token_benchmark
from basinlab.training import _corpus as corpus
from basinlab.training import _gpt as gpt
from basinlab.training import _pretrain as pretrain


def greedy_tokens(model, n=2, length=12):
    """[n, length] sequences the model itself continues greedily: next-token accuracy 1 at its params."""
    tokens = np.random.RandomState(0).randint(3, 400, size=(n, 1))
    for _ in range(length - 1):
        logits = forward(model.spec, model.params, jnp.asarray(tokens))
        tokens = np.concatenate([tokens, np.asarray(logits[:, -1].argmax(-1))[:, None]], 1)
    return tokens


@pytest.mark.slow  # > 5 s here: runs in make test, not in make check
def test_widths_around_two_centers(tiny_smol, tmp_path):
    bench = token_benchmark(greedy_tokens(tiny_smol), name="t")
    centers = {"theta0": tiny_smol.params, "scaled": jax.tree.map(lambda x: x * 1.3, tiny_smol.params)}
    alphas = [-0.2, -0.05, -0.01, 0.0, 0.01, 0.05, 0.2]
    out = basins.widths_around(tiny_smol, centers, [bench], directions=2, alphas=alphas, tol=0.05)
    assert out["width"].dims == ("center", "benchmark") and list(out["center"].values) == ["theta0", "scaled"]
    assert out.attrs["tol"] == 0.05
    base = out["base_score"].sel(benchmark="t")
    assert float(base.sel(center="theta0")) == 1.0 > float(base.sel(center="scaled"))
    # Each center's row is its own landscape along the same two random directions (seeds 0, 1).
    for label, params in centers.items():
        ds = landscape(tiny_smol.with_params(params), [bench], directions=2, alphas=alphas, progress=False)
        w = ds.basin.width(0.05)
        row = out.sel(center=label, benchmark="t")
        assert float(row["width"]) == float(w["width"].median("direction").values[0])
        assert bool(row["censored"]) == bool(w["censored"].any())
        assert float(row["base_score"]) == float(ds["base_score"].values[0])
    assert not out["censored"].any()  # the grid reaches past both basins' edges
    # with a store: one folder per center (their weights differ), and a rerun reads them back
    stored = basins.widths_around(tiny_smol, centers, [bench], directions=2, alphas=alphas, tol=0.05,
                                  store=tmp_path / "s")
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["center-scaled", "center-theta0"]
    stored.attrs.pop("created_at"), out.attrs.pop("created_at")  # provenance: when each was made
    xr.testing.assert_identical(stored, out)
    # options reach every landscape: 3 points per call instead of 7 gives the same widths
    chunked = basins.widths_around(tiny_smol, centers, [bench], directions=2, alphas=alphas, tol=0.05,
                                   options=SweepOptions(chunk_size=3))
    chunked.attrs.pop("created_at")
    xr.testing.assert_identical(chunked, out)
    with pytest.raises(ValueError, match="centers is empty"):
        basins.widths_around(tiny_smol, {}, [bench], alphas=[0.0])


def test_options_leave_the_store_to_the_caller(tiny_smol):
    with pytest.raises(ValueError, match="'store' is set by widths_around"):
        basins.widths_around(tiny_smol, {"theta0": tiny_smol.params}, [], alphas=[0.0],
                             options=SweepOptions(store="s"))
    with pytest.raises(ValueError, match="'store' is set by basin_width"):
        basins.basin_width(tiny_smol, np.zeros((1, 4), np.int32), options=SweepOptions(store="s"))
    with pytest.raises(TypeError, match="widths_around: options must be a basinlab.SweepOptions"):
        basins.widths_around(tiny_smol, {"theta0": tiny_smol.params}, [], alphas=[0.0],
                             options=dict(chunk_size=2))  # type: ignore[arg-type]


def synthetic(scores, alphas):
    scores = np.asarray(scores, float)[:, :, None]
    return xr.Dataset({"score": (("direction", "alpha", "benchmark"), scores),
                       "base_score": (("benchmark",), [scores[0, list(alphas).index(0.0), 0]])},
                      coords={"direction": np.arange(len(scores)), "alpha": alphas, "benchmark": ["b"]})


def test_the_width_measure_reports_interpolates_the_tolerance_crossing():
    alphas = np.array([-0.2, -0.1, 0.0, 0.1, 0.2])
    # Direction 0: score 1 - |alpha| * 2 -> crosses 1 - 0.05 at |alpha| = 0.025 on both sides.
    # Direction 1: flat -> censored at the grid ends.
    w = synthetic([1 - 2 * np.abs(alphas), np.ones(5)], alphas).basin.width(0.05, "score", interpolate=True)
    np.testing.assert_allclose(w["left"].values[:, 0], [-0.025, -0.2])
    np.testing.assert_allclose(w["right"].values[:, 0], [0.025, 0.2])
    assert w["censored"].values[:, 0].tolist() == [False, True]


@pytest.mark.slow
def test_measure_on_a_tiny_model(tmp_path):
    text = corpus.load_corpus("pydoc", max_chars=60_000)
    cfg = gpt.GPTConfig(n_layers=1, d_model=32, n_heads=2, max_seq_len=32)
    run = pretrain.pretrain(gpt.init_model(cfg, seed=0), text, "adamw", steps=10, batch_size=8, eval_every=10,
                            n_eval=4)
    val = corpus.windows(text.val, 4, 32, seed=None)
    ds, w = basins.basin_width(run.model, val, directions=2, alphas=np.linspace(-0.5, 0.5, 5), tol=0.05)
    assert ds.sizes["direction"] == 2 and 0 < w <= 1.0
    for _ in range(2):  # written to the store, then read back from it
        again, w_again = basins.basin_width(run.model, val, directions=2, alphas=np.linspace(-0.5, 0.5, 5),
                                            tol=0.05, store=tmp_path / "s")
        assert w_again == w and (tmp_path / "s" / "base.npz").exists()
        xr.testing.assert_equal(again, ds)
    interpolated = ds.basin.width(0.05, "score", interpolate=True)["width"].median("direction")
    assert w == float(interpolated.values[0])
