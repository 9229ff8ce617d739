"""How a sweep runs: :class:`SweepOptions`, one frozen value that every sweep-running function takes.

    opts = SweepOptions(chunk_size=4, mesh="points=2", perturbation="fused")
    ds = landscape(model, benchmarks, directions=8, alphas=alphas, options=opts)
    edges = basin_edges(model, benchmarks, directions=4, options=opts)   # the same options, forwarded

The fields are :func:`basinlab.landscape.landscape`'s keyword options, with its defaults. A field
name that does not exist raises ValueError naming the valid ones (also through :meth:`replace`), so
a misspelt option never goes unnoticed. Functions that run sweeps for you (``basin_edges``,
``widths_around``, ``smoothed_score``, ...) set some fields themselves (their own ``store``, ...)
and raise if the options given to them set those (:meth:`reserve`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable, Sequence
from typing import Any

from basinlab import _validate as validate
from basinlab.directions._recipes import NORMALIZATIONS, DirectionRecipe
from basinlab.landscape._program import PERTURBATIONS

__all__ = ["SweepOptions"]


def _patterns(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    # one glob string is one pattern (tuple("embed*") would be six one-letter patterns)
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(value)


@dataclasses.dataclass(frozen=True)
class SweepOptions:
    """The keyword options of :func:`basinlab.landscape.landscape` as one frozen value.

    normalization, include, exclude: the recipes a direction *count* becomes (``DirectionRecipe``
    fields; given recipes or pytrees keep their own). chunk_size: grid points per compiled call
    (None: min(8, grid size)), rounded up to a multiple of the mesh's points axis. store: block
    store folder (resumable), or None. compute_dtype: None = the model's. progress: a tqdm bar.
    devices, mesh: where the sweep runs (``landscape.mesh``). perturbation: "auto", "fused" or
    "materialized" (``program.choose_perturbation``).
    """

    normalization: str = "none"
    include: Sequence[str] | None = None  # kept as a tuple
    exclude: Sequence[str] | None = None
    chunk_size: int | None = None
    store: os.PathLike[str] | str | None = None
    compute_dtype: Any = None
    progress: bool = True
    devices: Sequence[Any] | None = None  # kept as a tuple
    mesh: Any = None
    perturbation: str = "auto"

    def __new__(cls, *args: Any, **kwargs: Any) -> SweepOptions:
        # Before the generated __init__: its TypeError for an unknown keyword names no valid field.
        validate.options("SweepOptions", kwargs, cls.field_names())
        return super().__new__(cls)

    def __post_init__(self) -> None:
        validate.choice("normalization", self.normalization, NORMALIZATIONS)
        validate.choice("perturbation", self.perturbation, PERTURBATIONS)
        if self.chunk_size is not None:
            object.__setattr__(self, "chunk_size", validate.positive_int("chunk_size", self.chunk_size))
        object.__setattr__(self, "include", _patterns(self.include))
        object.__setattr__(self, "exclude", _patterns(self.exclude))
        if self.devices is not None:
            object.__setattr__(self, "devices", tuple(self.devices))

    def recipe(self, seed: int) -> DirectionRecipe:
        """The Gaussian recipe of seed `seed` that a direction count becomes under these options."""
        return DirectionRecipe(seed=seed, normalization=self.normalization, include=_patterns(self.include),
                               exclude=_patterns(self.exclude))

    @classmethod
    def field_names(cls) -> tuple[str, ...]:
        """The option names, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    def replace(self, **changes: Any) -> SweepOptions:
        """A copy with `changes`; an unknown name raises ValueError naming the valid ones."""
        validate.options("SweepOptions.replace", changes, self.field_names())
        return dataclasses.replace(self, **changes)

    def changed(self) -> tuple[str, ...]:
        """The fields that differ from their defaults (None defaults by identity: a dtype equals None)."""
        out = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if (value is not None) if f.default is None else (value != f.default):
                out.append(f.name)
        return tuple(out)

    def reserve(self, caller: str, fields: Sequence[str]) -> SweepOptions:
        """self, after checking that it leaves `fields` (which `caller` sets itself) at their defaults;
        ValueError names the ones it sets."""
        taken = [name for name in self.changed() if name in fields]
        if taken:
            raise ValueError(f"{', '.join(map(repr, taken))} is set by {caller}, not by its options "
                             f"(SweepOptions fields {caller} sets itself: {', '.join(fields)})")
        return self


def as_options(options: SweepOptions | None, caller: str) -> SweepOptions:
    """`options` (default: ``SweepOptions()``); anything else raises TypeError naming `caller`."""
    if options is None:
        return SweepOptions()
    if not isinstance(options, SweepOptions):
        raise TypeError(f"{caller}: options must be a basinlab.SweepOptions (or None), got "
                        f"{type(options).__name__} {options!r}")
    return options
