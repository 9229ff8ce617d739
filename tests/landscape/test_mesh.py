"""Device meshes (points x model) and multi-process sweeps give the single-device Dataset."""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr
from jax.sharding import PartitionSpec as P

from basinlab.landscape import _mesh as mesh
from basinlab.landscape import landscape
from basinlab.landscape._results import open_dataset

RUNNER = pathlib.Path(__file__).with_name("mesh_runner.py")
ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_mesh_shape_parsing_and_errors():
    assert mesh.mesh_shape(None, 8) == {"points": 8, "model": 1}
    assert mesh.mesh_shape("points=2,model=4", 8) == {"points": 2, "model": 4}
    assert mesh.mesh_shape("model=4", 8) == {"points": 2, "model": 4}
    assert mesh.mesh_shape({"points": 8}, 8) == {"points": 8, "model": 1}
    with pytest.raises(ValueError, match="mesh model=3 does not divide the 8 devices"):
        mesh.mesh_shape("model=3", 8)
    with pytest.raises(ValueError, match="does not fill the 8 devices"):
        mesh.mesh_shape("points=3,model=2", 8)
    with pytest.raises(ValueError, match=r"\['pts'\] unknown; the axes are \['points', 'model'\]"):
        mesh.mesh_shape("pts=2", 8)
    with pytest.raises(ValueError, match="'points=P,model=M'.*'points2'"):
        mesh.mesh_shape("points2", 8)
    with pytest.raises(ValueError, match="mesh model"):
        mesh.mesh_shape({"model": 0}, 8)


def test_leaf_spec_shards_largest_divisible_axis_but_never_the_layer_axis():
    assert mesh.leaf_spec("layers/mlp/up/kernel", (4, 8, 32), 4) == P(None, None, "model")
    assert mesh.leaf_spec("layers/attn_norm/scale", (4, 6), 4) == P()  # 6 % 4; layer axis not used
    assert mesh.leaf_spec("embed/embedding", (100, 8), 4) == P("model")
    assert mesh.leaf_spec("final_norm/scale", (8,), 1) == P()


def test_one_device_mesh_runs_in_process(tiny_smol):
    from basinlab.scoring import token_benchmark

    text = token_benchmark(np.random.RandomState(0).randint(3, tiny_smol.spec.vocab_size, size=(2, 8)))
    ds = landscape(tiny_smol, text, directions=1, alphas=[0.0, 0.01], mesh="points=1,model=1", progress=False)
    assert json.loads(ds.attrs["mesh"]) == {"points": 1, "model": 1}
    with pytest.raises(ValueError, match="points=2 does not divide the 1 devices"):
        landscape(tiny_smol, text, directions=1, alphas=[0.0], mesh="points=2", progress=False)


def _env(devices: int, **extra) -> dict:
    env = {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", **extra}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


@pytest.mark.slow  # one subprocess, five sweeps on 8 forced host devices
def test_every_mesh_shape_gives_the_single_device_numbers(tiny_smol, tmp_path):
    """Each mesh shape (and `devices=` four of the eight devices, no mesh) against one device."""
    out = tmp_path / "meshes.npz"
    run = subprocess.run([sys.executable, str(RUNNER), "meshes", tiny_smol.source, str(out)], env=_env(8),
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    got = np.load(out)
    ref_score, ref_nll = got["1x1-materialized-score"], got["1x1-materialized-nll"]
    for name in ("8x1-fused", "1x8-materialized", "2x4-fused", "4x1-devices"):
        points, model = (int(x) for x in name.split("-")[0].split("x"))
        assert json.loads(str(got[f"{name}-mesh"])) == {"points": points, "model": model}
        np.testing.assert_array_equal(got[f"{name}-score"], ref_score, err_msg=name)
        # Sharding the weights over "model" splits matmul sums across devices: float32 round-off.
        np.testing.assert_allclose(got[f"{name}-nll"], ref_nll, rtol=1e-6, err_msg=name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _two_processes(tiny_smol, tmp_path, store, out, kill_after: int = 0):
    address = f"localhost:{_free_port()}"
    procs = []
    for i in range(2):
        extra = {"KILL_AFTER": str(kill_after)} if (kill_after and i == 1) else {}
        cmd = [sys.executable, str(RUNNER), "process", tiny_smol.source, str(out), str(store), address, "2", str(i)]
        procs.append(subprocess.Popen(cmd, env=_env(2, **extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                      text=True))
    if kill_after:
        assert procs[1].wait(timeout=600) == -signal.SIGKILL
        procs[0].kill()  # the survivor waits on a collective forever, as on a cluster: the scheduler kills it
        procs[0].wait(timeout=60)
        return None
    logs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], logs[0][-2000:] + logs[1][-2000:]
    assert "PROCESS 0 OF 2 DEVICES 4" in logs[0] and "PROCESS 1 OF 2 DEVICES 4" in logs[1]
    return open_dataset(out)


@pytest.mark.slow  # two jax.distributed processes on localhost (gloo), killed and resumed
def test_two_processes_killed_and_resumed_equal_one_process(tiny_smol, tmp_path):
    sys.path.insert(0, str(RUNNER.parent))
    import mesh_runner

    model, text, kw = mesh_runner.setup(tiny_smol.source)
    reference = landscape(model, text, **kw)
    store, out = tmp_path / "store", tmp_path / "two.nc"
    _two_processes(tiny_smol, tmp_path, store, out, kill_after=3)  # process 1 dies in the 3rd block
    written = sorted(p.name for p in store.glob("*.npz"))
    assert 0 < len(written) < 5, written  # base + 4 blocks when complete
    ds = _two_processes(tiny_smol, tmp_path, store, out)
    for var in ("item_score", "score", "base_score"):
        xr.testing.assert_equal(ds[var], reference[var])
    np.testing.assert_allclose(ds["nll"].values, reference["nll"].values, rtol=1e-6)


def test_memory_check_names_the_plan_the_free_memory_and_what_fits(monkeypatch):
    import types

    import jax

    one = mesh.build_mesh(None, jax.devices()[:1])
    compiled = types.SimpleNamespace(memory_analysis=lambda: types.SimpleNamespace(
        temp_size_in_bytes=30e9, output_size_in_bytes=1e6))
    monkeypatch.setattr(mesh, "device_memory", lambda m: (141e9, 130e9))
    with pytest.raises(ValueError, match=r"needs about 30.0 GB .* only 11.0 GB of 141.0 GB are free; "
                                         r"try perturbation='fused'.*mesh model=2"):
        mesh.check_fits(compiled, one, "materialized")
    monkeypatch.setattr(mesh, "device_memory", lambda m: (141e9, 10e9))
    mesh.check_fits(compiled, one, "materialized")  # fits: no error
    monkeypatch.setattr(mesh, "device_memory", lambda m: None)  # CPU: nothing reported, nothing checked
    mesh.check_fits(compiled, one, "fused")
