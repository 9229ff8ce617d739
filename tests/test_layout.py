"""basinlab's layout rules, read from the source with `ast` (README, "Layout"; issue 11).

Every import counts: module-level and inside functions, `import x`, `from x import y`, relative or
absolute, and `importlib.import_module("...")` with a constant name. The checks:

- no import cycle among basinlab modules (a package `__init__` importing its own submodules is not a
  cycle with them; importing `a.b.c` also runs the `__init__` of `a.b`, so that edge counts);
- each module imports only from its own layer or lower ones (LAYERS), viz imports neither training
  nor models, and every basinlab import names a real module (not an old flat alias path);
- no module imports another module's private name (`from m import _x`, `m._x`, `getattr(m, "_x")`);
  private *modules* (`basinlab._version`, `basinlab.models._load`) are fine to import;
- no file under basinlab/ longer than MAX_LINES lines.

The checker takes the package root, so the self-tests at the bottom run it on synthetic packages
with one violation of each kind: the checks cannot pass vacuously.
"""

from __future__ import annotations

import ast
import dataclasses
import itertools
import pathlib
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1] / "basinlab"
MAX_LINES = 450
# Lowest first. A module may import from its own layer or any lower one. Keys are the first name
# below the package ("" is the package's own __init__).
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("base", ("_version", "_validate", "stats", "_atomicio", "_lazy")),
    ("models", ("models",)),
    ("directions", ("directions",)),
    ("sandbox", ("sandbox",)),
    ("data", ("data",)),
    ("scoring", ("scoring",)),
    ("lmeval", ("lmeval",)),
    ("benchmarks", ("benchmarks",)),
    ("landscape", ("landscape",)),
    ("theory", ("theory",)),
    ("training", ("training",)),
    ("analysis", ("analysis",)),
    ("viz", ("viz",)),
    ("top", ("cli", "demo", "__main__", "results", "widgets", "_live", "_live_html", "")),
)
FORBIDDEN = {"viz": ("training", "models")}  # layer -> layers it must not import although lower


@dataclasses.dataclass(frozen=True)
class Import:
    """One import of a package module: `importer` (file:line `text`) needs module `target`."""

    importer: str
    target: str
    names: tuple[str, ...]  # for `from target import a, b`; () for `import target`
    path: pathlib.Path
    line: int
    text: str
    implicit: bool = False  # the import runs target (a parent package __init__) without naming it

    def where(self) -> str:
        note = f" (runs {self.target}'s __init__)" if self.implicit else ""
        return f"{self.path}:{self.line}: `{self.text}`{note}"


class Package:
    """The modules of one package on disk and every import among them."""

    def __init__(self, root: pathlib.Path, layers=LAYERS, forbidden=FORBIDDEN, max_lines=MAX_LINES):
        self.root, self.name = root, root.name
        self.layers, self.forbidden, self.max_lines = layers, forbidden, max_lines
        self.files: dict[str, pathlib.Path] = {}
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root.parent).with_suffix("").parts
            self.files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
        self.sources = {mod: path.read_text() for mod, path in self.files.items()}
        self.trees = {mod: ast.parse(self.sources[mod], str(path)) for mod, path in self.files.items()}
        self.unknown: list[str] = []  # basinlab imports that name no module on disk
        self.imports: list[Import] = []
        for mod in self.files:
            self.imports.extend(self._imports_of(mod))

    # ---- reading imports -------------------------------------------------------------------------

    def is_package(self, mod: str) -> bool:
        return self.files[mod].name == "__init__.py"

    def _rel(self, mod: str) -> pathlib.Path:
        return self.files[mod].relative_to(self.root.parent)

    def _absolute(self, mod: str, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = mod.split(".") if self.is_package(mod) else mod.split(".")[:-1]
        base = base[: len(base) - (node.level - 1)]
        return ".".join(base + ([node.module] if node.module else []))

    def _ours(self, name: str) -> bool:
        return name == self.name or name.startswith(self.name + ".")

    def _imports_of(self, mod: str):
        """Import records for every package import in module `mod` (any scope)."""
        for node in ast.walk(self.trees[mod]):
            line = getattr(node, "lineno", 0)
            found: list[tuple[str, tuple[str, ...]]] = []
            if isinstance(node, ast.Import):
                found = [(alias.name, ()) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = self._absolute(mod, node)
                for alias in node.names:  # `from pkg import sub` imports module pkg.sub
                    sub = f"{source}.{alias.name}"
                    found.append((sub, ()) if sub in self.files else (source, (alias.name,)))
            elif (isinstance(node, ast.Call) and _dotted(node.func) in ("importlib.import_module", "import_module")
                  and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found = [(node.args[0].value, ())]
            else:
                continue
            text = ast.get_source_segment(self.sources[mod], node) or ast.unparse(node)
            text = " ".join(text.split())
            for target, names in found:
                if not self._ours(target):
                    continue
                if target not in self.files:
                    self.unknown.append(f"{self._rel(mod)}:{line}: `{text}` names {target}, which is not a module "
                                        f"under {self.name}/ (an old alias path?)")
                    continue
                yield Import(mod, target, names, self._rel(mod), line, text)
                # importing a.b.c runs a's and a.b's __init__ too, unless the importer lives inside them
                parts = target.split(".")
                for i in range(1, len(parts)):
                    parent = ".".join(parts[:i])
                    if not (mod == parent or mod.startswith(parent + ".")):
                        yield Import(mod, parent, (), self._rel(mod), line, text, implicit=True)

    # ---- the checks --------------------------------------------------------------------------------

    def layer(self, mod: str) -> str | None:
        key = mod[len(self.name) + 1:].split(".")[0] if mod != self.name else ""
        return next((layer for layer, keys in self.layers if key in keys), None)

    def cycles(self) -> list[str]:
        """One message per strongly connected component of the import graph (size > 1)."""
        graph: dict[str, dict[str, Import]] = {m: {} for m in self.files}
        for imp in self.imports:
            own_init = self.is_package(imp.importer) and imp.target.startswith(imp.importer + ".")
            if imp.target != imp.importer and not own_init:
                graph[imp.importer].setdefault(imp.target, imp)
        messages = []
        for scc in _strongly_connected(graph):
            if len(scc) < 2:
                continue
            cycle = _cycle_in(graph, scc)
            steps = "\n".join(f"  {a} -> {b}  at {graph[a][b].where()}" for a, b in itertools.pairwise(cycle))
            messages.append(f"import cycle among {sorted(scc)}:\n{steps}")
        return messages

    def layer_violations(self) -> list[str]:
        order = [layer for layer, _ in self.layers]
        out = list(self.unknown)
        for mod in self.files:
            if self.layer(mod) is None:
                out.append(f"{self._rel(mod)}: module {mod} belongs to no layer (LAYERS in tests/test_layout.py)")
        for imp in self.imports:
            if imp.implicit:
                continue
            mine, theirs = self.layer(imp.importer), self.layer(imp.target)
            if mine is None or theirs is None:
                continue
            if order.index(theirs) > order.index(mine):
                out.append(f"{imp.where()}: layer {mine!r} imports {imp.target} from the higher layer {theirs!r}")
            elif theirs in self.forbidden.get(mine, ()):
                out.append(f"{imp.where()}: {mine} must not import {theirs} ({imp.target})")
        return out

    def private_violations(self) -> list[str]:
        out = []
        for imp in self.imports:
            for name in imp.names:
                if _private(name) and imp.target != imp.importer:
                    out.append(f"{imp.where()}: imports the private name {name} of {imp.target}")
        for mod, tree in self.trees.items():
            bound = self._module_bindings(mod, tree)
            seen = set()
            for node in ast.walk(tree):
                chain = None
                if isinstance(node, ast.Attribute):
                    chain = _chain(node)
                elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr"
                      and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)
                      and isinstance(node.args[1].value, str)):
                    head = _chain(node.args[0]) if isinstance(node.args[0], (ast.Name, ast.Attribute)) else None
                    chain = head + [node.args[1].value] if head else None
                if not chain or chain[0] not in bound:
                    continue
                current = bound[chain[0]]
                for attr in chain[1:]:
                    if f"{current}.{attr}" in self.files:
                        current = f"{current}.{attr}"
                        continue
                    key = (node.lineno, node.col_offset, attr)  # a.b._c.d and its inner a.b._c: once
                    if _private(attr) and current != mod and key not in seen:
                        seen.add(key)
                        out.append(f"{self._rel(mod)}:{node.lineno}: `{ast.unparse(node)}` reaches the private name "
                                   f"{attr} of {current}")
                    break
        return out

    def private_member_violations(self) -> list[str]:
        """`obj._m` (obj not self/cls) in one module, where `_m` is a private method or attribute that
        only a class of another module defines: a private member used across modules."""
        owners: dict[str, set[str]] = {}
        for mod, tree in self.trees.items():
            for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
                for item in cls.body:
                    names = [item.name] if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) else [
                        tgt.id for tgt in getattr(item, "targets", [getattr(item, "target", None)])
                        if isinstance(tgt, ast.Name)]
                    for name in names:
                        if _private(name):
                            owners.setdefault(name, set()).add(mod)
        out = []
        for mod, tree in self.trees.items():
            for node in ast.walk(tree):
                if (isinstance(node, ast.Attribute) and node.attr in owners and mod not in owners[node.attr]
                        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))):
                    out.append(f"{self._rel(mod)}:{node.lineno}: `{ast.unparse(node)}` uses the private member "
                               f"{node.attr} of a class in {', '.join(sorted(owners[node.attr]))}")
        return out

    def _module_bindings(self, mod: str, tree: ast.AST) -> dict[str, str]:
        """Local names (any scope) bound to package modules by an import statement."""
        bound = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if not self._ours(alias.name) or alias.name not in self.files:
                        continue
                    if alias.asname:
                        bound[alias.asname] = alias.name
                    else:
                        bound[alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom):
                source = self._absolute(mod, node)
                for alias in node.names:
                    if f"{source}.{alias.name}" in self.files:
                        bound[alias.asname or alias.name] = f"{source}.{alias.name}"
        return bound

    def long_files(self) -> list[str]:
        out = []
        for path in sorted(self.root.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                n = len(path.read_text(errors="replace").splitlines())
                if n > self.max_lines:
                    out.append(f"{path.relative_to(self.root.parent)}:{self.max_lines + 1}: {n} lines "
                               f"(at most {self.max_lines})")
        return out


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _dotted(node: ast.AST) -> str:
    chain = _chain(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
    return ".".join(chain) if chain else ""


def _chain(node: ast.AST) -> list[str] | None:
    """`a.b.c` -> ["a", "b", "c"]; None when the chain does not start at a plain name."""
    attrs = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    return [node.id, *reversed(attrs)] if isinstance(node, ast.Name) else None


def _strongly_connected(graph: dict[str, dict]) -> list[set[str]]:
    """Tarjan's algorithm, iterative (graph: node -> successors)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(graph[nxt])))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    scc = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        scc.add(member)
                        if member == node:
                            break
                    out.append(scc)
    return out


def _cycle_in(graph: dict[str, dict], scc: set[str]) -> list[str]:
    """A shortest cycle through the smallest member of `scc`, as [a, b, ..., a] (breadth first)."""
    start = min(scc)
    parent = {start: None}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for nxt in graph[node]:
                if nxt == start:
                    path = [node]
                    while parent[path[-1]] is not None:
                        path.append(parent[path[-1]])
                    return [start, *reversed(path[:-1]), start] if len(path) > 1 else [start, node, start]
                if nxt in scc and nxt not in parent:
                    parent[nxt] = node
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    raise AssertionError(f"no cycle through {start} in {scc}")


def _fail(messages: list[str], what: str) -> None:
    if messages:
        pytest.fail(f"{len(messages)} {what}:\n" + "\n".join(messages), pytrace=False)


# ---- basinlab itself ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def basinlab_package():
    return Package(ROOT)


def test_no_import_cycles(basinlab_package):
    _fail(basinlab_package.cycles(), "import cycle(s)")


def test_imports_go_down_the_layers(basinlab_package):
    _fail(basinlab_package.layer_violations(), "layer violation(s)")


def test_no_private_names_across_modules(basinlab_package):
    _fail(basinlab_package.private_violations(), "private name(s) used across modules")


def test_no_private_members_across_modules(basinlab_package):
    _fail(basinlab_package.private_member_violations(), "private class member(s) used across modules")


def test_no_long_files(basinlab_package):
    _fail(basinlab_package.long_files(), "file(s) too long")


def test_the_walk_sees_the_whole_package(basinlab_package):
    """Guards the checks above against reading an empty or partial tree."""
    mods = set(basinlab_package.files)
    assert {"basinlab", "basinlab.models._load", "basinlab.viz._widgets", "basinlab.landscape._engine"} <= mods
    assert len(basinlab_package.imports) > 100
    lazy = [i for i in basinlab_package.imports if i.importer == "basinlab" and i.target == "basinlab.models"]
    assert lazy, "basinlab/__init__.py imports basinlab.models"


# ---- self-tests on synthetic packages --------------------------------------------------------------

SYNTHETIC_LAYERS = (("base", ("util", "_version")), ("low", ("low",)), ("high", ("high",)), ("viz", ("viz",)),
                    ("top", ("",)))


def write_package(tmp_path: pathlib.Path, files: dict[str, str]) -> Package:
    root = tmp_path / "pkg"
    for name, text in {"__init__.py": "", "low/__init__.py": "", "high/__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return Package(root, layers=SYNTHETIC_LAYERS, forbidden={"viz": ("low",)}, max_lines=20)


CLEAN = {
    "__init__.py": "from pkg import _version\nfrom pkg._version import __version__\nfrom pkg.high import b\n",
    "_version.py": "__version__ = '1'\n",
    "util.py": "def helper():\n    return 1\n",
    "low/__init__.py": "from pkg.low.a import f\n",  # an __init__ re-exporting its own module: no cycle
    "low/a.py": "from pkg import util\nfrom pkg.low import c\n\ndef f():\n    return util.helper() + c.g()\n",
    "low/c.py": "def g():\n    return 2\n",
    "high/b.py": "import pkg.low.a as a\nfrom ..low import c\n\ndef h():\n    from pkg.util import helper\n"
                 "    return a.f() + c.g() + helper()\n",
    "viz.py": "from pkg.util import helper\n",
}


def test_checker_passes_a_clean_package(tmp_path):
    pkg = write_package(tmp_path, CLEAN)
    assert (pkg.cycles(), pkg.layer_violations(), pkg.private_violations(), pkg.long_files()) == ([], [], [], [])
    assert {(i.importer, i.target) for i in pkg.imports if not i.implicit} >= {
        ("pkg.high.b", "pkg.low.a"), ("pkg.high.b", "pkg.low.c"), ("pkg.high.b", "pkg.util")}


def test_checker_reports_a_cycle_through_a_lazy_import(tmp_path):
    pkg = write_package(tmp_path, {**CLEAN, "low/c.py": "def g():\n    from pkg.low.a import f\n    return 2\n"})
    [message] = pkg.cycles()
    assert "pkg.low.a -> pkg.low.c" in message and "pkg.low.c -> pkg.low.a" in message
    assert "pkg/low/c.py:2: `from pkg.low.a import f`" in message
    assert "pkg/low/a.py:2: `from pkg.low import c`" in message


def test_checker_reports_a_cycle_through_a_package_init(tmp_path):
    # low/a.py imports high.b, whose import runs high/__init__, which imports low.a
    pkg = write_package(tmp_path, {**CLEAN, "high/__init__.py": "import pkg.low.a\n",
                                   "low/c.py": "from pkg.high.b import h\n"})
    messages = pkg.cycles()
    assert len(messages) == 1 and "pkg.high" in messages[0] and "runs pkg.high's __init__" in messages[0]


def test_checker_reports_upward_and_forbidden_imports(tmp_path):
    pkg = write_package(tmp_path, {**CLEAN, "util.py": "def helper():\n    import pkg.low.c\n    return 1\n",
                                   "low/c.py": "from .. import high\n",
                                   "viz.py": "from pkg.low.c import g\nimport pkg.flat_alias\n",
                                   "stray.py": ""})
    messages = "\n".join(pkg.layer_violations())
    assert "pkg/util.py:2: `import pkg.low.c`: layer 'base' imports pkg.low.c from the higher layer 'low'" in messages
    assert "pkg/low/c.py:1: `from .. import high`: layer 'low' imports pkg.high from the higher layer 'high'" \
        in messages
    assert "pkg/viz.py:1: `from pkg.low.c import g`: viz must not import low (pkg.low.c)" in messages
    assert "pkg/viz.py:2: `import pkg.flat_alias` names pkg.flat_alias, which is not a module" in messages
    assert "module pkg.stray belongs to no layer" in messages
    assert len(pkg.layer_violations()) == 5


def test_checker_reports_private_names(tmp_path):
    pkg = write_package(tmp_path, {
        **CLEAN,
        "util.py": "def helper():\n    return 1\n\ndef _hidden():\n    return 2\n",
        "low/c.py": "from pkg.util import _hidden\n\ndef g():\n    return _hidden()\n",
        "high/b.py": "import pkg\nfrom pkg import util as u\n\ndef h():\n    return u._hidden() + pkg.util._hidden()"
                     " + getattr(u, '_hidden')()\n",
    })
    messages = pkg.private_violations()
    joined = "\n".join(messages)
    assert "pkg/low/c.py:1: `from pkg.util import _hidden`: imports the private name _hidden of pkg.util" in joined
    assert "pkg/high/b.py:5: `u._hidden` reaches the private name _hidden of pkg.util" in joined
    assert "pkg/high/b.py:5: `pkg.util._hidden` reaches the private name _hidden of pkg.util" in joined
    assert "`getattr(u, '_hidden')` reaches the private name _hidden of pkg.util" in joined
    assert len(messages) == 4


def test_checker_reports_private_members(tmp_path):
    pkg = write_package(tmp_path, {
        **CLEAN,
        "low/c.py": "class Model:\n    def _tokenizer(self):\n        return self._cache\n\n"
                    "    _cache = None\n\ndef g():\n    return Model()._tokenizer()\n",
        "high/b.py": "from pkg.low.c import Model\n\ndef h(m: Model):\n    return m._tokenizer(), m._cache\n",
    })
    assert sorted(pkg.private_member_violations()) == [
        "pkg/high/b.py:4: `m._cache` uses the private member _cache of a class in pkg.low.c",
        "pkg/high/b.py:4: `m._tokenizer` uses the private member _tokenizer of a class in pkg.low.c",
    ]
    assert write_package(tmp_path / "clean", CLEAN).private_member_violations() == []


def test_checker_reports_long_files(tmp_path):
    pkg = write_package(tmp_path, {**CLEAN, "low/c.py": "x = 1\n" * 21})
    assert pkg.long_files() == ["pkg/low/c.py:21: 21 lines (at most 20)"]
