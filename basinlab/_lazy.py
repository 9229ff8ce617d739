"""Names a package exports but imports on first use (PEP 562), for optional dependencies.

A package lists them in `__all__` and under `if TYPE_CHECKING:` (so type checkers and IDEs see the
real objects) and sets `__getattr__ = lazy(__name__, {name: home module})`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy(package: str, homes: Mapping[str, str]) -> Callable[[str], object]:
    """A module `__getattr__` importing `homes[name]` on first use and returning its attribute `name`,
    or the module itself where `homes[name]` is the submodule `package.name`."""

    def __getattr__(name: str) -> object:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(homes[name])
        return module if homes[name] == f"{package}.{name}" else getattr(module, name)

    return __getattr__
