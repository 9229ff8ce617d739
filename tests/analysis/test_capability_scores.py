"""capability_scores: models scored directly on the same items, paired against the reference, resumable."""

import importlib
import types

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import binomtest

from basinlab.analysis import _capability as capability
from basinlab.landscape._store import CorruptBlockWarning, StoreLocked
from basinlab.scoring._base import Benchmark, Scores

MODEL = types.SimpleNamespace(spec=None, compute_dtype=jnp.float32)


def items_bench(name="items", n=20):
    """Item i passes iff params["w"][i] > 0: each model's weights set its item scores."""
    def score_fn(spec, params, data, compute_dtype):
        return Scores(score=(params["w"][: data["ids"].shape[0]] > 0).astype(jnp.float32))
    return Benchmark(name=name, data={"n": n, "ids": np.arange(n)}, score_fn=score_fn, n_items=n, metric="0/1")


def weights(passing):
    return {"w": jnp.asarray(np.where(np.asarray(passing, bool), 1.0, -1.0), jnp.float32)}


THETA0 = [1] * 12 + [0] * 8
FELL = [0] * 8 + [1] * 4 + [0] * 8   # 8 items fell, none rose: p = 2 / 2**8
SIX_ONE = [0] * 6 + [1] * 6 + [1] + [0] * 7   # 6 fell, 1 rose: p = 0.125, kept


def test_scores_and_paired_changes_against_the_reference():
    thetas = {"theta0": weights(THETA0), "bad": weights(FELL), "noisy": weights(SIX_ONE)}
    ds = capability.capability_scores(MODEL, thetas, [items_bench()])
    assert list(ds["model"].values) == ["theta0", "bad", "noisy"] and ds.attrs["reference"] == "theta0"
    np.testing.assert_allclose(ds["score"].sel(benchmark="items"), [0.6, 0.2, 0.35])
    np.testing.assert_array_equal(ds["item_score"].sel(model="bad", benchmark="items"), FELL)
    bad, noisy, ref = (ds.sel(model=m, benchmark="items") for m in ("bad", "noisy", "theta0"))
    assert (int(bad["fell"]), int(bad["rose"]), str(bad["change"].item())) == (8, 0, "fell")
    assert float(bad["p_value"]) == pytest.approx(2 / 2**8)
    assert (int(noisy["fell"]), int(noisy["rose"]), str(noisy["change"].item())) == (6, 1, "kept")
    assert float(noisy["p_value"]) == pytest.approx(binomtest(6, 7, 0.5).pvalue)
    assert (int(ref["fell"]), int(ref["rose"]), str(ref["change"].item())) == (0, 0, "kept")
    assert float(ref["lower"]) < 0.6 < float(ref["upper"])  # each model's own Clopper-Pearson interval
    assert int(ref["budget_hits"]) == -1  # the benchmark does not generate


def test_store_resumes_without_rescoring_and_refuses_other_weights(tmp_path, monkeypatch):
    measure_module = importlib.import_module("basinlab.benchmarks._measure")  # the package exports the function
    calls, real = [], measure_module.measure
    monkeypatch.setattr(measure_module, "measure", lambda *a, **k: calls.append(1) or real(*a, **k))
    bench = items_bench()
    thetas = {"theta0": weights(THETA0), "bad": weights(FELL)}
    first = capability.capability_scores(MODEL, thetas, [bench], store=tmp_path)
    assert len(calls) == 2 and len(list(tmp_path.glob("*.npz"))) == 2
    again = capability.capability_scores(MODEL, thetas, [bench], store=tmp_path)
    assert len(calls) == 2  # read back, not measured again
    np.testing.assert_array_equal(again["item_score"], first["item_score"])
    with pytest.raises(ValueError, match="other weights or items"):
        capability.capability_scores(MODEL, {"theta0": weights(THETA0), "bad": weights(SIX_ONE)}, [bench],
                                     store=tmp_path)


def test_a_corrupt_stored_result_is_reported_moved_aside_and_measured_again(tmp_path, monkeypatch):
    """The store is a BlockStore: an unreadable result warns by name, is kept as <name>.npz.corrupt and
    measured again (only that one), like a sweep's block."""
    measure_module = importlib.import_module("basinlab.benchmarks._measure")
    calls, real = [], measure_module.measure
    monkeypatch.setattr(measure_module, "measure", lambda *a, **k: calls.append(1) or real(*a, **k))
    thetas = {"theta0": weights(THETA0), "bad": weights(FELL)}
    first = capability.capability_scores(MODEL, thetas, [items_bench()], store=tmp_path)
    block = tmp_path / "bad--items.npz"
    block.write_bytes(block.read_bytes()[:40])  # truncated
    with pytest.warns(CorruptBlockWarning, match="bad--items.npz"):
        again = capability.capability_scores(MODEL, thetas, [items_bench()], store=tmp_path)
    assert len(calls) == 3 and (tmp_path / "bad--items.npz.corrupt").exists() and block.exists()
    np.testing.assert_array_equal(again["item_score"], first["item_score"])


def test_the_store_is_locked_and_reads_rows_of_the_json_format(tmp_path, monkeypatch):
    """A store locked by another process raises StoreLocked; a row in the JSON format
    of earlier releases is read (not measured again) and kept as a block."""
    import json

    from basinlab.landscape._fingerprint import fingerprint

    bench, theta = items_bench(), weights(THETA0)
    (tmp_path / "theta0--items.json").write_text(json.dumps(
        {"params": fingerprint(theta), "data": fingerprint(bench.data), "item_scores": THETA0,
         "budget_hits": None, "examples": []}))
    measure_module = importlib.import_module("basinlab.benchmarks._measure")
    monkeypatch.setattr(measure_module, "measure", lambda *a, **k: pytest.fail("measured a stored row"))
    ds = capability.capability_scores(MODEL, {"theta0": theta}, [bench], store=tmp_path)
    np.testing.assert_array_equal(ds["item_score"].sel(model="theta0", benchmark="items"), THETA0)
    assert (tmp_path / "theta0--items.npz").exists()
    fcntl = pytest.importorskip("fcntl")
    with open(tmp_path / ".lock", "w") as held:  # the lock as another process's BlockStore holds it
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("4242")
        held.flush()
        with pytest.raises(StoreLocked, match=r"in use by another process \(pid 4242\)"):
            capability.capability_scores(MODEL, {"theta0": theta}, [bench], store=tmp_path)


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="non-empty mapping"):
        capability.capability_scores(MODEL, {}, [items_bench()])
    with pytest.raises(ValueError, match="distinct names"):
        capability.capability_scores(MODEL, {"theta0": weights(THETA0)}, [items_bench(), items_bench()])
    with pytest.raises(ValueError, match="confidence"):
        capability.capability_scores(MODEL, {"theta0": weights(THETA0)}, [items_bench()], confidence=1.5)
