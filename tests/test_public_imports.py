"""Notebooks, experiments, bench, data scripts and the README's Python examples use only the public
API: `import basinlab as bl` and the names in `__all__` of basinlab and its public subpackages.

Read with `ast`: `from m import n` needs m public (no `_` component) and n in m.__all__; an
attribute chain on an imported basinlab module (`bl.viz.curves`) needs each step in the `__all__` of
the module before it. The self-test at the bottom shows each rule can fail.
"""

from __future__ import annotations

import ast
import importlib
import json
import pathlib
import re
import types

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


def _code_of(path: pathlib.Path) -> list[tuple[str, str]]:
    """(where, source) of each piece of Python in a notebook, script or Markdown file."""
    if path.suffix == ".ipynb":
        cells = json.loads(path.read_text())["cells"]
        code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
        return [(str(path.relative_to(REPO)), code)]
    if path.suffix == ".md":
        blocks = re.findall(r"```python\n(.*?)```", path.read_text(), re.S)
        return [(f"{path.relative_to(REPO)} block {i + 1}", b) for i, b in enumerate(blocks)]
    return [(str(path.relative_to(REPO)), path.read_text())]


def _public_module(name: str) -> types.ModuleType | None:
    if any(part.startswith("_") for part in name.split(".")):
        return None
    try:
        module = importlib.import_module(name)
    except ImportError:
        return None
    return module if hasattr(module, "__all__") else None


def _exported(module: types.ModuleType, name: str) -> bool:
    return name in module.__all__


def violations(where: str, source: str) -> list[str]:
    """Every non-public basinlab use in `source` (a Python text that may hold notebook magics)."""
    source = re.sub(r"(?m)^\s*[%!].*$", "", source)
    tree = ast.parse(source)
    bad, modules = [], {}  # modules: local name -> public basinlab module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "basinlab":
            module = _public_module(node.module)
            if module is None:
                bad.append(f"{where}:{node.lineno}: from {node.module} import ... (not a public module)")
                continue
            for alias in node.names:
                if not _exported(module, alias.name):
                    bad.append(f"{where}:{node.lineno}: {alias.name} is not in {node.module}.__all__")
                elif isinstance(getattr(module, alias.name), types.ModuleType):
                    modules[alias.asname or alias.name] = getattr(module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != "basinlab":
                    continue
                module = _public_module(alias.name)
                if module is None:
                    bad.append(f"{where}:{node.lineno}: import {alias.name} (not a public module)")
                elif alias.asname:
                    modules[alias.asname] = module
                else:
                    modules["basinlab"] = importlib.import_module("basinlab")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        chain, inner = [node.attr], node.value
        while isinstance(inner, ast.Attribute):
            chain.insert(0, inner.attr)
            inner = inner.value
        if not (isinstance(inner, ast.Name) and inner.id in modules):
            continue
        obj = modules[inner.id]
        for step in chain:
            if not isinstance(obj, types.ModuleType):
                if isinstance(obj, types.FunctionType) and not hasattr(obj, step):
                    # e.g. bl.landscape.build_mesh: bl.landscape is the sweep function, not the package
                    bad.append(f"{where}:{node.lineno}: {inner.id}.{'.'.join(chain)}: {obj.__name__} is a "
                               f"function without an attribute {step}")
                break
            if not _exported(obj, step):
                bad.append(f"{where}:{node.lineno}: {inner.id}.{'.'.join(chain)}: {step} is not in "
                           f"{obj.__name__}.__all__")
                break
            obj = getattr(obj, step)
    return sorted(set(bad))


SOURCES = sorted([*REPO.glob("notebooks/*.ipynb"), *REPO.glob("experiments/*.py"), *REPO.glob("bench/*.py"),
                  *REPO.glob("data/*.py"), *REPO.glob("*.md"), *REPO.glob("bench/*.md"), *REPO.glob("data/*.md"),
                  *REPO.glob("docs/**/*.md")])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(REPO)))
def test_uses_only_public_names(path):
    bad = [v for where, code in _code_of(path) for v in violations(where, code)]
    assert not bad, "non-public basinlab use(s):\n" + "\n".join(bad)


def test_sources_are_found():
    names = {p.name for p in SOURCES}
    assert {"01_most_case.ipynb", "README.md", "go_matched.py", "scale.py"} <= names


def test_checker_reports_each_kind_of_private_use():
    code = ("import basinlab as bl\nimport basinlab.landscape._engine\nfrom basinlab.landscape._engine import Sweep\n"
            "from basinlab.viz import _plots\nfrom basinlab import viz\nbl.landscape(1)\nbl._lazy.lazy\n"
            "bl.viz.curves\nbl.viz.check_dataset\nviz.no_such_name\nfrom basinlab.models import forward\n"
            "bl.landscape.build_mesh\nbl.landscape.landscape\n")
    bad = violations("x", code)
    assert any("import basinlab.landscape._engine" in b for b in bad)
    assert any("from basinlab.landscape._engine import" in b for b in bad)
    assert any("_plots is not in basinlab.viz.__all__" in b for b in bad)
    assert any("bl._lazy.lazy" in b for b in bad)
    assert any("bl.viz.check_dataset" in b for b in bad)
    assert any("viz.no_such_name" in b for b in bad)
    assert any("bl.landscape.build_mesh" in b for b in bad)
    assert not any("bl.landscape.landscape" in b for b in bad), bad
    assert not any("bl.viz.curves" in b or "forward" in b or b.startswith("x:6:") for b in bad), bad
