"""Device meshes for a sweep: a points axis (grid points in parallel) and a model axis (sharded weights).

A sweep's mesh has two named axes. ``points`` splits each block's grid points over devices, which
walk their share one point after another (as with one device). ``model`` shards every weight
(FSDP-style storage: each device keeps 1/m of each leaf, split along its largest axis that m
divides; leaves no axis of which m divides stay replicated) and XLA's sharding propagation inserts
the gathers and reductions the forward pass needs. ``points * model`` must equal the number of
devices used; across several processes (``jax.distributed``) the devices are all processes'.

    mesh_shape("points=2,model=4")  -> {"points": 2, "model": 4}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from basinlab import _validate as validate
from basinlab.directions._treemath import leaf_shape, leaves_with_paths

__all__ = ["AXES", "build_mesh", "leaf_spec", "mesh_shape", "place_params", "points_sharded", "replicated",
           "to_host"]

AXES = ("points", "model")


def mesh_shape(mesh: Any, n_devices: int) -> dict[str, int]:
    """{"points": p, "model": m} from None (all devices on points), a "points=2,model=4" string or a
    mapping; a missing axis takes what the device count leaves. ValueError names what is wrong."""
    if mesh is None:
        return {"points": n_devices, "model": 1}
    if isinstance(mesh, str):
        parsed = {}
        for part in mesh.replace(" ", "").split(","):
            name, sep, value = part.partition("=")
            if not sep or not value.lstrip("-").isdigit():
                raise ValueError(f"mesh {mesh!r}: expected 'points=P,model=M' (e.g. 'points=2,model=4'), "
                                 f"got the part {part!r}")
            parsed[name] = int(value)
        mesh = parsed
    if not isinstance(mesh, Mapping):
        raise TypeError(f"mesh must be None, 'points=P,model=M', a dict or a jax Mesh, got {type(mesh).__name__}")
    unknown = sorted(set(mesh) - set(AXES))
    if unknown:
        raise ValueError(f"mesh axes {unknown} unknown; the axes are {list(AXES)}")
    sizes = {name: validate.positive_int(f"mesh {name}", mesh[name]) for name in mesh}
    for given, missing in (("points", "model"), ("model", "points")):
        if missing not in sizes:
            if n_devices % sizes.get(given, 1):
                raise ValueError(f"mesh {given}={sizes[given]} does not divide the {n_devices} devices")
            sizes[missing] = n_devices // sizes.get(given, 1)
    if sizes["points"] * sizes["model"] != n_devices:
        raise ValueError(f"mesh points={sizes['points']} x model={sizes['model']} does not fill the "
                         f"{n_devices} devices; choose sizes whose product is {n_devices}")
    return {"points": sizes["points"], "model": sizes["model"]}


def build_mesh(mesh: Any = None, devices: Sequence[Any] | None = None) -> Mesh:
    """A jax Mesh with axes ("points", "model") over ``devices`` (default: every device of every
    process, ``jax.devices()``). A given Mesh must have exactly these axis names."""
    if isinstance(mesh, Mesh):
        if tuple(mesh.axis_names) != AXES:
            raise ValueError(f"mesh axis names must be {AXES}, got {tuple(mesh.axis_names)}")
        return mesh
    devices = list(devices) if devices is not None else jax.devices()
    shape = mesh_shape(mesh, len(devices))
    return Mesh(np.asarray(devices, dtype=object).reshape(shape["points"], shape["model"]), AXES)


def leaf_spec(path: str, shape: tuple, model: int) -> P:
    """PartitionSpec of one weight on the model axis: its largest axis that ``model`` divides
    (the layer axis of stacked "layers/..." leaves excluded, since the scan slices it), or replicated."""
    if model == 1 or not shape:
        return P()
    first = 1 if path.startswith("layers/") else 0
    candidates = [(shape[i], -i) for i in range(first, len(shape)) if shape[i] % model == 0]
    if not candidates:
        return P()
    axis = -max(candidates)[1]
    return P(*([None] * axis + ["model"]))


def place_params(params: Any, mesh: Mesh) -> Any:
    """params on the mesh: replicated over points, sharded over model per :func:`leaf_spec`.
    Every process must pass the same values (each loads the same checkpoint)."""
    model = mesh.shape["model"]
    items, treedef = leaves_with_paths(params)
    placed = [jax.device_put(x, NamedSharding(mesh, leaf_spec(path, leaf_shape(x), model)))
              for path, x in items]
    return jax.tree_util.tree_unflatten(treedef, placed)


def replicated(tree, mesh: Mesh):
    """A pytree replicated on every device of the mesh."""
    return jax.device_put(tree, NamedSharding(mesh, P()))


def points_sharded(x, mesh: Mesh):
    """An array whose leading axis is split over the points axis."""
    return jax.device_put(x, NamedSharding(mesh, P("points")))


def to_host(tree):
    """Numpy copies of (possibly multi-process) arrays: gathered from every process when they are
    not all addressable here."""
    def one(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            from jax.experimental import multihost_utils

            return np.asarray(multihost_utils.process_allgather(x, tiled=True))
        return np.asarray(x)

    return jax.tree.map(one, tree)


def device_memory(mesh: Mesh) -> tuple[int, int] | None:
    """(bytes limit, bytes in use) of the mesh's first addressable device, or None where the backend
    does not report memory (CPU)."""
    device = next(iter(mesh.local_devices), None) if hasattr(mesh, "local_devices") else mesh.devices.flat[0]
    stats = (device.memory_stats() if device is not None else None) or {}
    if "bytes_limit" not in stats:
        return None
    return int(stats["bytes_limit"]), int(stats.get("bytes_in_use", 0))


def check_fits(compiled, mesh: Mesh, perturbation: str) -> None:
    """ValueError before a sweep runs out of device memory: XLA's plan for one block (temporaries and
    outputs per device; the weights and inputs are already on the device) against the free memory,
    naming both and what would fit better."""
    memory = device_memory(mesh)
    if memory is None:
        return
    limit, in_use = memory
    plan = compiled.memory_analysis()
    need = plan.temp_size_in_bytes + plan.output_size_in_bytes
    free = limit - in_use
    if need <= free:
        return
    hints = []
    if perturbation != "fused":
        hints.append("perturbation='fused' (about one copy of the weights instead of four)")
    hints.append(f"mesh model={2 * mesh.shape['model']} (shard the weights over more devices)")
    hints.append("fewer items or tokens per benchmark (activations)")
    raise ValueError(f"this sweep needs about {need / 1e9:.1f} GB of device memory per device for one block "
                     f"(XLA's plan, {perturbation} perturbation, mesh {dict(mesh.shape)}) but only "
                     f"{free / 1e9:.1f} GB of {limit / 1e9:.1f} GB are free; try " + "; or ".join(hints))
