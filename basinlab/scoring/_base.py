"""The Benchmark interface the landscape engine evaluates at every perturbed point, and its typed outputs.

A Benchmark is items (a pytree of arrays with a leading item axis) plus a pure JAX function that
scores them under given params. Three record types carry the results between modules:

- `Scores` (a flax.struct pytree): what every score function returns inside the compiled sweep,
  per item: score in [0, 1] (0/1 for oracles), nll where meaningful, generated tokens for a judge,
  and for generating oracles whether the item hit its token budget (its answer may be cut).
- `Judged`: what `Benchmark.judge` returns on the host for one grid point, from that point's Scores
  (code execution, regex extraction on generated text: judges that must run Python).
- `Grades`: what a grader (`judges.*_grader(...)`, called as `grader(texts, item_ids)`) returns for
  a batch of generated texts; `oracles.generate_and_judge_benchmark` turns grades into a judge.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import flax.struct
import numpy as np

from basinlab import _validate as validate

__all__ = ["BUDGET_REASON", "PARAM_ACCESS", "Benchmark", "Grades", "Judged", "Scores", "hit_budget_reason"]

PARAM_ACCESS = ("tree", "forward", "generate")

# How a judge's reason starts for an item whose generation hit its token budget (no EOS and no stop
# string within max_new_tokens). The Dataset counts these per grid point (`budget_hits`).
BUDGET_REASON = "hit the token budget; "


def hit_budget_reason(reason: str) -> bool:
    """Whether a judge's per-item reason marks an item that hit its token budget."""
    return str(reason).startswith(BUDGET_REASON)


_R = TypeVar("_R", bound="_FieldAccess")


def _from_mapping(cls: type[_R], out: Mapping[str, Any], what: str) -> _R:
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(out) - set(fields))
    if unknown:
        raise ValueError(f"{what} returned unknown key(s) {unknown}; {cls.__name__} fields: {', '.join(fields)}")
    return cls(**out)


class _FieldAccess:
    """`record["score"]` and `"nll" in record` read the fields, as code written against the dict
    outputs of basinlab < 0.2 does; a field that is None is absent, as the key was."""

    __dataclass_fields__: ClassVar[dict[str, Any]]  # every subclass is a dataclass (for fields()' type)

    def __getitem__(self, key: str) -> Any:
        fields = {f.name for f in dataclasses.fields(self)}
        value = getattr(self, key) if key in fields else None
        if value is None:
            raise KeyError(key)
        return value

    def __contains__(self, key: str) -> bool:
        try:
            self[key]
        except KeyError:
            return False
        return True


@flax.struct.dataclass
class Scores(_FieldAccess):
    """Per-item outputs of a score function at one parameter point (None: not produced).

    score: [n_items] float in [0, 1]; nll: [n_items] float32 nats (mean per scored token);
    tokens: [n_items, T] int32 generated ids, which a host judge turns into scores;
    budget_hit: [n_items] bool, the item's generation produced neither an EOS nor a stop string
    within its token budget (its judge marks the reason with BUDGET_REASON).
    """

    score: Any = None
    nll: Any = None
    tokens: Any = None
    budget_hit: Any = None

    @classmethod
    def of(cls, out: Scores | Mapping[str, Any]) -> Scores:
        """`out` as Scores: Scores as they are; a dict with keys among the fields (the score-function
        output of basinlab < 0.2) converted. ValueError for other keys, TypeError for other types."""
        if isinstance(out, cls):
            return out
        if isinstance(out, Mapping):
            return _from_mapping(cls, out, "a score function")
        raise TypeError(f"a score function must return basinlab.benchmarks.Scores, got {type(out).__name__}")


@flax.struct.dataclass
class Judged(_FieldAccess):
    """A host judge's verdicts at one grid point (numpy; None: not produced).

    score: [n_items] float32 in [0, 1], replacing the score function's score; reason: [n_items] str,
    why each item passed or failed; example: [n_examples] str, the first generated outputs.
    """

    score: Any = None
    reason: Any = None
    example: Any = None

    @classmethod
    def of(cls, out: Judged | Mapping[str, Any]) -> Judged:
        """`out` as Judged with numpy fields: a Judged, or a dict with keys among the fields (the
        judge output of basinlab < 0.2). ValueError for other keys, TypeError for other types."""
        if isinstance(out, Mapping):
            out = _from_mapping(cls, out, "a judge")
        elif not isinstance(out, cls):
            raise TypeError(f"a judge must return basinlab.benchmarks.Judged, got {type(out).__name__}")
        fields = {f.name: getattr(out, f.name) for f in dataclasses.fields(cls)}
        # flax.struct's `out.replace`, which pyright cannot see
        return dataclasses.replace(out, **{k: np.asarray(v) for k, v in fields.items() if v is not None})


@dataclasses.dataclass(frozen=True)
class Grades(_FieldAccess):
    """A grader's verdicts on n generated texts: score [n] floats in [0, 1], reason [n] str.
    Unpacks as `scores, reasons = grades`."""

    score: Sequence[float]
    reason: Sequence[str]

    def __iter__(self) -> Iterator[Any]:
        return iter((self.score, self.reason))


@dataclasses.dataclass(frozen=True, eq=False)
class Benchmark:
    """name: short id ("text-nll", "gsm8k_cot_llama", ...); data: pytree, leaves [n_items, ...];
    score_fn(spec, params, data, compute_dtype) -> Scores (pure JAX, jit-able with spec and
    compute_dtype static); judge(outputs: Scores of numpy arrays at one grid point) -> Judged
    (optional, runs on the host after each compiled block).

    param_access says how score_fn reads the params (``PARAM_ACCESS``), which decides how the
    landscape engine may hand it a perturbed model (its ``perturbation`` argument):
    "tree" (default): as a pytree of arrays (e.g. ``jax.tree.leaves(params)``): it gets the whole
    perturbed dict. "forward": only through basinlab.models' forward functions, a few passes per
    point: it may get a ``LayerwiseParams`` whose layers are perturbed inside the forward pass.
    "generate": through ``basinlab.models._generate`` (a pass per new token): layerwise works but
    redraws the direction at every step, so the engine prefers the whole perturbed dict."""

    name: str
    data: Any
    score_fn: Callable
    n_items: int
    metric: str
    units: str = "fraction"
    chance: float | None = None
    higher_is_better: bool = True
    synthetic: bool = False
    judge: Callable | None = None
    description: str = ""
    param_access: str = "tree"

    def __post_init__(self) -> None:
        validate.choice("param_access", self.param_access, PARAM_ACCESS)

    def attrs(self) -> dict[str, Any]:
        """Plain-JSON description for Dataset provenance."""
        return {
            "name": self.name, "metric": self.metric, "units": self.units, "n_items": self.n_items,
            "chance": self.chance, "higher_is_better": self.higher_is_better,
            "synthetic": self.synthetic, "description": self.description,
        }
