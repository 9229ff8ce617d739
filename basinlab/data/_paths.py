"""Where benchmark data lives: an explicit path, $BASINLAB_DATA, or ../shared/data beside a checkout.

`local_file` resolves a data set's file from an explicit ``path=`` (the file itself, or a folder
that holds it directly or in the data-root layout) or under `data_root()`; `not_found` is the error
that says how to point at local files when neither (nor the hub) has it.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence

__all__ = ["ENV", "PathLike", "data_root", "local_file", "not_found"]

ENV = "BASINLAB_DATA"
PathLike = str | os.PathLike[str]


def data_root() -> pathlib.Path | None:
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


def local_file(path: PathLike | None, names: Sequence[str], relative: str) -> pathlib.Path | None:
    """The data file: `path` itself if a file, else `path`/name for the first name in `names` +
    [relative] that exists; without `path`, data_root()/relative if it exists, else None.
    A `path` that does not exist or lacks the file is a FileNotFoundError, never a silent fallback."""
    if path is not None:
        p = pathlib.Path(path).expanduser()
        if p.is_file():
            return p
        if p.is_dir():
            for name in [*names, relative]:
                if (p / name).is_file():
                    return p / name
            raise FileNotFoundError(
                f"{p} is a folder without {' or '.join(repr(n) for n in dict.fromkeys([*names, relative]))}; "
                f"pass the data file itself or a folder that holds it"
            )
        raise FileNotFoundError(f"no data file or folder at {p} (from path=)")
    root = data_root()
    if root is not None and (root / relative).is_file():
        return root / relative
    return None


def _where() -> str:
    root = data_root()
    if os.environ.get(ENV):
        return f"${ENV}={os.environ[ENV]}"
    if root is not None:
        return f"the data root {root}"
    return f"no data root (${ENV} is not set and no ../shared/data folder was found)"


def not_found(dataset: str, relative: str, hub_note: str | None) -> FileNotFoundError:
    """The error for a data set found nowhere: where it looked, why the hub was not used (hub_note),
    and how to point at local files."""
    hub = f" Hugging Face hub: {hub_note}." if hub_note else ""
    return FileNotFoundError(
        f"{dataset} data not found: looked for {relative} under {_where()}.{hub} "
        f"To use local files, set {ENV}=/path/to/data so that /path/to/data/{relative} exists, "
        f"or pass path= (the file itself, or a folder that holds it)."
    )
