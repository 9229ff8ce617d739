"""The pre-0.2 flat module paths (`basinlab.plots`, `basinlab.sft`, ...) as aliases of their new homes.

basinlab's modules moved into layered subpackages (README, "Layout"). Code written against the old
paths keeps working: `import basinlab.sft` or `basinlab.sft.finetune_run` gives a module whose
names are those of the new modules listed below. Importing an alias that is not one of the stable
short paths (`STABLE`) warns once with the new location.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import warnings

# old path -> the modules whose public names (__all__) it holds, in lookup order; "module:name" for one
# name, "module:name as old" for one that was renamed.
ALIASES: dict[str, tuple[str, ...]] = {
    "basinlab.directions": ("basinlab.landscape.directions", "basinlab.training.worstcase:worst_case"),
    "basinlab.results": ("basinlab.landscape.results", "basinlab.landscape.accessor:BasinAccessor"),
    "basinlab.widgets": ("basinlab.viz.widgets",),
    "basinlab.certify": ("basinlab.theory.certify",),
    "basinlab.optim": ("basinlab.training.optim", "basinlab.training.step"),
    "basinlab.train": ("basinlab.training.loop", "basinlab.training.data", "basinlab.training.loss:masked_nll",
                       "basinlab.models.save:save_checkpoint", "basinlab.models.save:spec_to_config"),
    "basinlab.sft": ("basinlab.training.sft", "basinlab.analysis.alignment:alignment",
                     "basinlab.analysis.capability:capability_change", "basinlab.analysis.basins:widths_around"),
    "basinlab.pretrain": ("basinlab.training.pretrain", "basinlab.training.gpt", "basinlab.training.corpus",
                          "basinlab.training.loss:evaluate_nll", "basinlab.analysis.curves:training_curves as curves"),
    "basinlab.worstcase": ("basinlab.training.worstcase", "basinlab.analysis.collapse:collapse",
                           "basinlab.viz.worstcase:trace_figure"),
    "basinlab.basins": ("basinlab.training.forgetting", "basinlab.analysis.basins:basin_width as measure",
                        "basinlab.analysis.curves:forgetting_dataset"),
    "basinlab.plots": ("basinlab.viz.plots",),
    "basinlab.bound_plots": ("basinlab.viz.bounds",),
    "basinlab.go_plots": ("basinlab.viz.pretraining",),
    "basinlab.lmeval": ("basinlab.integrations.lmeval",),
}
# Short paths that stay public without a warning (named in the README and by external checks).
STABLE = frozenset({"basinlab.directions", "basinlab.results", "basinlab.widgets"})


def exports(old: str) -> list[tuple[str, str, object]]:
    """(exposed name, home module, object) for every name the alias `old` holds, in ALIASES order."""
    out, seen = [], set()
    for target in ALIASES[old]:
        home, _, only = target.partition(":")
        only, _, renamed = only.partition(" as ")
        mod = importlib.import_module(home)
        names = [only] if only else getattr(mod, "__all__", None) or [n for n in vars(mod) if n[0] != "_"]
        for n in names:
            exposed = renamed or n
            if exposed not in seen:
                seen.add(exposed)
                out.append((exposed, home, getattr(mod, n)))
    return out


class _AliasLoader(importlib.abc.Loader):
    def create_module(self, spec):
        return None  # the default module object; exec_module fills it

    def exec_module(self, module):
        name = module.__name__
        targets = ALIASES[name]
        if name not in STABLE:
            warnings.warn(f"{name} moved to {' + '.join(targets)}; import it from there",
                          DeprecationWarning, stacklevel=2)
        held = exports(name)
        for exposed, _, obj in held:
            setattr(module, exposed, obj)
        module.__all__ = [exposed for exposed, _, _ in held]
        module.__doc__ = f"Alias of {', '.join(targets)} (basinlab's old flat layout)."


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in ALIASES:
            return importlib.machinery.ModuleSpec(fullname, _AliasLoader())
        return None


def install() -> None:
    """Put the alias finder on sys.meta_path (once)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_AliasFinder())
