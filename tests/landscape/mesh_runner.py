"""Subprocess side of tests/landscape/test_mesh.py (sweeps on forced host devices and many processes)
and of test_landscape.py's resume test (through `setup`).

    python mesh_runner.py meshes FOLDER OUT.npz                 # one process, several mesh shapes
    python mesh_runner.py process FOLDER OUT.nc STORE ADDR N I  # process I of N (jax.distributed)

Environment: XLA_FLAGS=--xla_force_host_platform_device_count=K for K devices per process;
KILL_AFTER=n makes the process SIGKILL itself at the n-th host judge call (mid-sweep).
"""

import os
import signal
import sys

import jax
import numpy as np


def setup(folder, directions: int = 2, n_alphas: int = 8):
    """(model, a next-token benchmark whose judge SIGKILLs the process at the KILL_AFTER-th grid
    point when that variable is set, landscape keyword arguments); tests/landscape/test_landscape.py's
    sweep runner uses it too."""
    import basinlab
    from basinlab.scoring import token_benchmark

    model = basinlab.load(folder)
    tokens = np.random.RandomState(0).randint(3, model.spec.vocab_size, size=(4, 24))
    text = token_benchmark(tokens, name="text")
    kill_after = int(os.environ.get("KILL_AFTER", "0"))
    if kill_after:
        seen = []

        def judge(out):
            seen.append(1)
            if len(seen) >= kill_after:
                os.kill(os.getpid(), signal.SIGKILL)  # die mid-sweep, like a killed job
            return {}

        text = type(text)(**{**text.__dict__, "judge": judge})
    kw = dict(directions=directions, alphas=np.linspace(-0.05, 0.05, n_alphas), chunk_size=4, progress=False)
    return model, text, kw


def meshes(folder, out):
    from basinlab.landscape import landscape

    model, text, kw = setup(folder)
    runs = {"1x1-materialized": dict(devices=jax.devices()[:1], perturbation="materialized"),
            "8x1-fused": dict(mesh="points=8,model=1", perturbation="fused"),
            "1x8-materialized": dict(mesh="points=1,model=8", perturbation="materialized"),
            "2x4-fused": dict(mesh="points=2,model=4", perturbation="fused"),
            # a device list and no mesh: points over those devices, the default perturbation
            "4x1-devices": dict(devices=jax.devices()[:4])}
    arrays = {}
    for name, extra in runs.items():
        ds = landscape(model, text, **extra, **kw)
        arrays[f"{name}-score"] = ds["item_score"].values
        arrays[f"{name}-nll"] = ds["nll"].values
        arrays[f"{name}-mesh"] = np.asarray(ds.attrs["mesh"])
    np.savez(out, **arrays)


def process(folder, out, store, address, n, i):
    jax.distributed.initialize(coordinator_address=address, num_processes=int(n), process_id=int(i))
    from basinlab.landscape import landscape
    from basinlab.landscape._results import save

    model, text, kw = setup(folder)
    ds = landscape(model, text, store=store, mesh="points=2", **kw)
    if jax.process_index() == 0:
        save(ds, out)
    print("PROCESS", jax.process_index(), "OF", jax.process_count(), "DEVICES", len(jax.devices()), flush=True)
    jax.distributed.shutdown()


if __name__ == "__main__":
    {"meshes": meshes, "process": process}[sys.argv[1]](*sys.argv[2:])
