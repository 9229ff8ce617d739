"""Where benchmark data lives: an explicit path, $BASINLAB_DATA, or ../shared/data beside a checkout."""

from __future__ import annotations

import os
import pathlib
from typing import Optional

ENV = "BASINLAB_DATA"


def data_root() -> Optional[pathlib.Path]:
    """$BASINLAB_DATA if set, else a ../shared/data folder next to the current directory or the
    repository (the layout this project's CI uses), else None."""
    if os.environ.get(ENV):
        return pathlib.Path(os.environ[ENV]).expanduser()
    here = pathlib.Path(__file__).resolve().parents[2]
    for base in (pathlib.Path.cwd(), here):
        for candidate in (base / ".." / "shared" / "data", base / ".." / ".." / "shared" / "data"):
            if candidate.is_dir():
                return candidate.resolve()
    return None


def data_file(relative: str, path: Optional[os.PathLike] = None) -> pathlib.Path:
    """An explicit `path`, or `relative` under data_root(); FileNotFoundError saying how to fix it."""
    if path is not None:
        p = pathlib.Path(path).expanduser()
        if not p.exists():
            raise FileNotFoundError(f"no data file at {p}")
        return p
    root = data_root()
    if root is None:
        raise FileNotFoundError(
            f"benchmark data {relative!r} not found: set {ENV} to the folder that holds it "
            f"(e.g. {ENV}=/path/to/data with {relative} inside), or pass an explicit path"
        )
    p = root / relative
    if not p.exists():
        raise FileNotFoundError(f"{p} does not exist ({ENV} or data root = {root})")
    return p
