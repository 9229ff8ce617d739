"""Loading a repository script (bench/, data/, experiments/: folders of scripts, not packages) by its path."""

import importlib.util
import pathlib
import sys
from types import ModuleType

REPO = pathlib.Path(__file__).resolve().parents[1]


def load_script(relative: str, name: str) -> ModuleType:
    """The script at REPO/relative, imported as module `name` (registered in sys.modules first:
    dataclasses look their module up there while the script runs), with its folder on sys.path as
    `python <script>` would put it (experiments/ scripts import their helper `runs`)."""
    folder = str((REPO / relative).parent)
    if folder not in sys.path:
        sys.path.append(folder)
    spec = importlib.util.spec_from_file_location(name, REPO / relative)
    assert spec is not None and spec.loader is not None, relative
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
