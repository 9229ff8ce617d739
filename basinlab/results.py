"""Stored results: Datasets (`save` / `open_dataset`, re-exported from `basinlab.landscape`) and the
small versioned JSON summaries that every number quoted in the README or the docs comes from
(`write_summary` / `read_summary`).

A summary is what a heavy run leaves in git when its full Datasets cannot be: the numbers a table
quotes, and enough provenance to tie each one to the run that made it::

    {"format": "basinlab-summary/1",
     "what": "one line: what was measured",
     "provenance": {"created_at", "basinlab_version", "jax_version", "model", "seeds", "spec",
                    "command", "code_version", "machine"},
     "results": {...}}

``provenance`` goes through the same function as every Dataset's attrs (`spec` holds the settings),
plus the command that ran, the git commit of the tree it ran from (with "+dirty" when the tree had
uncommitted changes) and the machine (platform, CPU count, JAX devices).
"""

from __future__ import annotations

import json
import os
import pathlib
import platform
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from basinlab._atomicio import write_json
from basinlab.landscape import open_dataset, save
from basinlab.landscape._results import json_default, provenance

__all__ = ["SUMMARY_FORMAT", "code_version", "open_dataset", "read_summary", "save", "write_summary"]

SUMMARY_FORMAT = "basinlab-summary/1"


def code_version(folder: os.PathLike[str] | str | None = None) -> str:
    """The git commit of the checkout that holds ``folder`` (default: this package's), with "+dirty"
    when tracked files have uncommitted changes; "unknown" outside a git checkout or without git."""
    where = pathlib.Path(folder) if folder is not None else pathlib.Path(__file__).parent
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=30)
        if sha.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return sha.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def _machine() -> str:
    import jax

    devices = jax.devices()
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
            f"{len(devices)} x {devices[0].device_kind} ({jax.default_backend()})")


def _plain(x: Any) -> Any:
    """`x` with pandas and xarray objects as JSON-ready values: a DataFrame as a list of row records
    (its index as columns), a Series as {index: value}, an xarray Dataset or DataArray through its
    DataFrame; mappings and lists recursively. numpy values are left for json's fallback."""
    import pandas as pd
    import xarray as xr

    if isinstance(x, xr.DataArray):
        x = x.to_dataframe(name=x.name or "value")
    elif isinstance(x, xr.Dataset):
        x = x.to_dataframe()
    if isinstance(x, pd.DataFrame):
        flat = x.reset_index() if not isinstance(x.index, pd.RangeIndex) else x
        flat.columns = [" ".join(map(str, c)).strip() if isinstance(c, tuple) else str(c) for c in flat.columns]
        return [_plain(r) for r in flat.to_dict(orient="records")]
    if isinstance(x, pd.Series):
        return {" ".join(map(str, k)) if isinstance(k, tuple) else str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def write_summary(path: os.PathLike[str] | str, what: str, results: Mapping[str, Any], *,
                  spec: Mapping[str, Any] | None = None, model: Any = None, seeds: Sequence[int] = (),
                  command: str | None = None) -> pathlib.Path:
    """Write a summary JSON (module docstring) atomically; returns its path.

    Args:
      path: where (e.g. "experiments/results/<name>.json"); folders are created.
      what: one line saying what was measured.
      results: the numbers: JSON values, numpy values (arrays become lists), pandas DataFrames (lists of
        row records) and Series, xarray Datasets and DataArrays (through their DataFrames).
      spec: the settings that made them (grid, tol, directions, recipe...).
      model: the model (or its id; a list for several); seeds: every random seed behind the numbers.
      command: how to rerun it (default: this process's command line).
    """
    if not isinstance(what, str) or not what.strip():
        raise ValueError(f"what must be a non-empty line saying what was measured, got {what!r}")
    if not isinstance(results, Mapping):
        raise TypeError(f"results must be a mapping of names to numbers, got {type(results).__name__}")
    prov: dict[str, Any] = dict(provenance("write_summary", dict(spec or {}), model=model, seeds=list(seeds)))
    prov["seeds"], prov["spec"] = json.loads(prov["seeds"]), json.loads(prov["spec"])
    prov["command"] = command if command is not None else " ".join([pathlib.Path(sys.argv[0]).name, *sys.argv[1:]])
    prov["code_version"] = code_version()
    prov["machine"] = _machine()
    summary = {"format": SUMMARY_FORMAT, "what": what, "provenance": prov, "results": _plain(dict(results))}
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_json(path, summary, indent=1, default=json_default)


def read_summary(path: os.PathLike[str] | str) -> dict[str, Any]:
    """A summary written by `write_summary`, checked: a clear error names the file when it is not
    JSON, not a summary, or of another format version."""
    path = pathlib.Path(path)
    try:
        summary = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"{path} is not a JSON file ({e}); rewrite it with the command in its provenance") from e
    if not isinstance(summary, dict) or "format" not in summary:
        raise ValueError(f"{path} is not a basinlab summary (no 'format' key; expected {SUMMARY_FORMAT!r})")
    if summary["format"] != SUMMARY_FORMAT:
        raise ValueError(f"{path} is a {summary['format']!r} summary; this basinlab reads {SUMMARY_FORMAT!r}")
    missing = [k for k in ("what", "provenance", "results") if k not in summary]
    if missing:
        raise ValueError(f"{path} lacks {missing} (a summary has what, provenance and results)")
    return summary
