"""The public API: `import basinlab as bl` gives every name in `bl.__all__` (in a fresh interpreter, so
nothing imported by other tests helps), each subpackage's `__all__` resolves, every other module is
private by name, the names the layout issue promised keep working, and they work on tiny inputs."""

import json
import os
import pathlib
import subprocess
import sys
from statistics import NormalDist

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

import basinlab

REPO = pathlib.Path(__file__).resolve().parents[1]
# The names issue 11 promises (README), then other public names users and notebooks call.
PROMISED = ("load", "models.forward", "landscape.landscape", "theory.strong_bound", "theory.weak_bound",
            "theory.certified_radius", "directions.DirectionRecipe", "results.save", "widgets.SigmaExplorer")
ALSO_PUBLIC = ("landscape", "benchmark", "basin_edges", "DirectionRecipe", "save", "open_dataset", "SigmaExplorer",
               "certify", "worst_case", "finetune_run", "stats.clopper_pearson", "training.go", "training.finetune",
               "benchmarks.build", "benchmarks.reference", "analysis.collapse", "viz.curves", "lmeval.evaluate",
               "scoring.token_benchmark", "data.load_gsm8k", "sandbox.run_code", "directions.between")
# Subpackages (their modules are private: `_name.py`) and the public single modules.
SUBPACKAGES = ("analysis", "benchmarks", "data", "directions", "landscape", "lmeval", "models", "sandbox", "scoring",
               "stats", "theory", "training", "viz")
PUBLIC_MODULES = {"basinlab.cli", "basinlab.demo", "basinlab.results", "basinlab.widgets"}
PHI = NormalDist()


def fresh_python(code: str) -> subprocess.CompletedProcess:
    """Run `code` in a new interpreter that finds this checkout's basinlab first."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "JAX_PLATFORMS": "cpu"}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


def test_public_names_resolve_from_a_bare_import():
    names = PROMISED + ALSO_PUBLIC
    code = (
        "import json, warnings\nimport basinlab\nout = {}\n"
        "warnings.simplefilter('ignore', DeprecationWarning)\n"
        f"for name in {names!r}:\n"
        "    obj = basinlab\n"
        "    for part in name.split('.'):\n"
        "        obj = getattr(obj, part)\n"
        "    out[name] = 'class' if isinstance(obj, type) else 'callable' if callable(obj) else type(obj).__name__\n"
        "print(json.dumps(out))\n"
    )
    run = fresh_python(code)
    assert run.returncode == 0, run.stderr[-3000:]
    kinds = json.loads(run.stdout.strip().splitlines()[-1])
    assert kinds.pop("directions.DirectionRecipe") == kinds.pop("widgets.SigmaExplorer") == "class"
    assert set(kinds.values()) <= {"callable", "class"}, kinds


def test_every_exported_name_resolves():
    """Each name in bl.__all__ and in every subpackage's __all__ exists, in a fresh interpreter."""
    code = (
        "import importlib, json\nimport basinlab\nmissing = []\n"
        "for name in basinlab.__all__:\n"
        "    getattr(basinlab, name, None) is None and missing.append(name)\n"
        f"for pkg in {SUBPACKAGES!r}:\n"
        "    mod = importlib.import_module('basinlab.' + pkg)\n"
        "    assert len(set(mod.__all__)) == len(mod.__all__), pkg\n"
        "    missing += [pkg + '.' + n for n in mod.__all__ if not hasattr(mod, n)]\n"
        "print(json.dumps(missing))\n"
    )
    run = fresh_python(code)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.strip().splitlines()[-1]) == []


def test_modules_are_private_by_name():
    """Below basinlab/, every module is a package __init__, `_name.py`, or one of PUBLIC_MODULES."""
    root = REPO / "basinlab"
    public = []
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        name = ".".join(parts)
        if path.name == "__init__.py" or parts[-1].startswith("_") or name in PUBLIC_MODULES:
            continue
        public.append(name)
    assert not public, f"public modules outside the API: {sorted(public)}; prefix them with _"
    packages = {p.parent.name for p in root.glob("*/__init__.py")}
    assert packages == set(SUBPACKAGES), packages ^ set(SUBPACKAGES)


def test_flat_landscape_is_the_sweep_and_keeps_its_old_path():
    assert basinlab.landscape is basinlab.landscape.landscape
    from basinlab.landscape import Sweep, landscape

    assert landscape is basinlab.landscape and Sweep.__name__ == "Sweep"
    assert basinlab.benchmark is basinlab.benchmarks.build


def test_basin_accessor_after_import_basinlab_alone(tmp_path):
    """`import basinlab; xr.open_dataset(path).basin` in a fresh interpreter, nothing else imported."""
    alphas = [-0.1, 0.0, 0.1]
    ds = xr.Dataset({"score": (("direction", "alpha", "benchmark"), [[[0.9], [1.0], [0.2]]]),
                     "base_score": (("benchmark",), [1.0])},
                    coords={"direction": [0], "alpha": alphas, "benchmark": ["b"]})
    path = tmp_path / "tiny.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    code = (
        "import xarray as xr\nimport basinlab\n"
        f"w = xr.open_dataset({str(path)!r}, engine='h5netcdf').basin.width(tol=0.15)\n"
        "print(float(w['left'][0, 0]), float(w['right'][0, 0]), bool(w['censored'][0, 0]))\n"
    )
    run = fresh_python(code)
    assert run.returncode == 0, run.stderr[-3000:]
    # within 0.15 of the base at alpha -0.1 (the end of the grid: censored) and 0, not at +0.1
    assert run.stdout.split() == ["-0.1", "0.0", "True"]


def test_load_reads_a_checkpoint_folder(tiny_smol):
    again = basinlab.load(tiny_smol.source)
    assert isinstance(again, basinlab.Model) and again.spec == tiny_smol.spec
    assert jax.tree.structure(again.params) == jax.tree.structure(tiny_smol.params)
    for a, b in zip(jax.tree.leaves(again.params), jax.tree.leaves(tiny_smol.params), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_forward_shape_and_causality(tiny_smol):
    spec, params = tiny_smol.spec, tiny_smol.params
    tokens = np.random.RandomState(0).randint(0, spec.vocab_size, size=(2, 6))
    logits = basinlab.models.forward(spec, params, tokens)
    assert logits.shape == (2, 6, spec.vocab_size) and logits.dtype == jnp.float32
    assert bool(jnp.isfinite(logits).all())
    changed = tokens.copy()
    changed[:, -1] = (changed[:, -1] + 1) % spec.vocab_size  # the last token sees nothing after it
    again = basinlab.models.forward(spec, params, changed)
    np.testing.assert_allclose(again[:, :-1], logits[:, :-1], rtol=1e-5, atol=1e-5)


def test_landscape_one_direction_two_alphas(tiny_smol):
    tokens = np.random.RandomState(1).randint(3, tiny_smol.spec.vocab_size, size=(2, 12))
    bench = basinlab.token_benchmark(tokens, name="text")
    ds = basinlab.landscape(tiny_smol, bench, directions=1, alphas=[0.0, 0.5], progress=False)
    assert ds["score"].dims == ("direction", "alpha", "benchmark") and ds["score"].shape == (1, 2, 1)
    nll = ds["nll"].sel(benchmark="text", direction=ds["direction"][0])
    base = float(ds["base_nll"].sel(benchmark="text"))
    assert float(nll.sel(alpha=0.0)) == pytest.approx(base, rel=1e-5)  # theta0 + 0 * delta is theta0
    assert abs(float(nll.sel(alpha=0.5)) - base) > 1e-3  # a big step moves the loss


def test_bounds_against_their_closed_forms():
    p, r, sigma = 0.9, 0.5, 0.25
    assert basinlab.theory.strong_bound(p, r, sigma) == pytest.approx(PHI.cdf(PHI.inv_cdf(p) - r / sigma), abs=1e-12)
    assert basinlab.theory.weak_bound(p, r, sigma) == pytest.approx(p - r / ((2 * np.pi) ** 0.5 * sigma), abs=1e-12)
    radius = basinlab.theory.certified_radius(p, sigma, q=0.6)
    assert radius == pytest.approx(sigma * (PHI.inv_cdf(p) - PHI.inv_cdf(0.6)), abs=1e-12)
    assert basinlab.theory.strong_bound(p, radius, sigma) == pytest.approx(0.6, abs=1e-12)  # the radius keeps q


def test_direction_recipe_round_trips_through_its_dict():
    recipe = basinlab.directions.DirectionRecipe(seed=0)
    d = recipe.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert (d["seed"], d["kind"]) == (0, "gaussian")
    assert basinlab.directions.DirectionRecipe.from_dict(d) == recipe


def test_results_save_round_trip(tmp_path):
    ds = xr.Dataset({"score": (("direction", "alpha"), np.arange(6.0).reshape(2, 3), {"units": "fraction"})},
                    coords={"direction": [0, 1], "alpha": [-0.1, 0.0, 0.1]}, attrs={"model": "tiny", "seed": 3})
    path = tmp_path / "sub" / "r.nc"
    basinlab.results.save(ds, path)
    xr.testing.assert_identical(basinlab.results.open_dataset(path), ds)


def test_sigma_explorer_is_a_widget_class():
    pytest.importorskip("ipywidgets")
    import ipywidgets

    assert isinstance(basinlab.widgets.SigmaExplorer, type)
    assert issubclass(basinlab.widgets.SigmaExplorer, ipywidgets.Widget)
