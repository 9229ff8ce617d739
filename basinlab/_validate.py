"""Argument checks shared by every layer: each raises ValueError (`nonnegative_scalar`: TypeError for
a non-number) naming the argument, the bad value and what is valid. Signatures are always
(name, value, ...).

Array checks (`probability`, `open_unit`, `positive`, `nonnegative`, `real`) accept scalars or
arrays, return float64 numpy arrays and report the first offending element.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "arange", "choice", "confidence", "finite", "nonnegative", "nonnegative_int", "nonnegative_scalar", "open_unit",
    "options", "positive", "positive_int", "probability", "real",
]


def _first(x: np.ndarray, bad: np.ndarray) -> Any:
    # .item(): a plain Python scalar prints as 0, not np.int64(0).
    return (x[bad].flat[0] if x.ndim else x[()]).item()


def real(name: str, value: Any) -> np.ndarray:
    """float64 array; NaN is rejected (inf is allowed), and so is a bool (True is no count or size)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    a = np.asarray(value, dtype=np.float64)
    if np.any(np.isnan(a)):
        raise ValueError(f"{name} must not be NaN, got {_first(a, np.isnan(a))!r}")
    return a


def probability(name: str, value: Any) -> np.ndarray:
    """Every element in [0, 1]."""
    a = real(name, value)
    bad = (a < 0) | (a > 1)
    if np.any(bad):
        raise ValueError(f"{name} must lie in [0, 1], got {_first(a, bad)!r}")
    return a


def open_unit(name: str, value: Any) -> np.ndarray:
    """Every element in (0, 1)."""
    a = real(name, value)
    bad = (a <= 0) | (a >= 1)
    if np.any(bad):
        raise ValueError(f"{name} must lie in (0, 1), got {_first(a, bad)!r}")
    return a


def positive(name: str, value: Any) -> np.ndarray:
    """Every element finite and > 0."""
    a = real(name, value)
    bad = ~np.isfinite(a) | (a <= 0)
    if np.any(bad):
        raise ValueError(f"{name} must be positive and finite, got {_first(a, bad)!r}")
    return a


def nonnegative(name: str, value: Any) -> np.ndarray:
    """Every element >= 0 (+inf allowed)."""
    a = real(name, value)
    bad = a < 0
    if np.any(bad):
        raise ValueError(f"{name} must be >= 0, got {_first(a, bad)!r}")
    return a


def finite(name: str, value: Any) -> float:
    """One finite real number (anything float() takes but a bool)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return out


def nonnegative_scalar(name: str, value: Any) -> float:
    """One finite real number >= 0 (not a bool); TypeError for a non-number."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.number)) and not (
            hasattr(value, "shape") and getattr(value, "shape", None) == () and hasattr(value, "dtype")):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    out = float(value)
    if not math.isfinite(out) or out < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}")
    return out


def positive_int(name: str, value: Any) -> int:
    """A whole number >= 1 (an int, or a float with an integer value such as 3.0; not a bool)."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    try:
        ok = float(value).is_integer() and value >= 1
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def nonnegative_int(name: str, value: Any) -> int:
    """A whole number >= 0 (an int or an integer-like such as numpy ints; not a bool or a float)."""
    import operator

    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    try:
        out = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}") from None
    if out < 0:
        raise ValueError(f"{name} must be an integer >= 0, got {value!r}")
    return out


def confidence(name: str, value: Any) -> float:
    """A confidence level in (0, 1)."""
    try:
        c = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}") from None
    if not 0.0 < c < 1.0:  # also rejects NaN
        raise ValueError(f"{name} must lie in (0, 1), got {value!r}")
    return c


def choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """`value` if it is one of `choices`."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; valid choices: {', '.join(map(repr, choices))}")
    return value


def options(what: str, given: Mapping[str, Any], valid: Iterable[str]) -> None:
    """Unknown keyword options are an error, never silently dropped."""
    valid = sorted(valid)
    unknown = sorted(set(given) - set(valid))
    if unknown:
        raise ValueError(f"unknown option(s) {', '.join(map(repr, unknown))} for {what}; "
                         f"valid options: {', '.join(valid) if valid else '(none)'}")


MAX_GRID_POINTS = 1_000_000


def arange(name: str, start: Any, stop: Any, step: Any, max_points: int = MAX_GRID_POINTS) -> int:
    """A numpy.arange(start, stop, step) that is finite, nonempty and at most `max_points` long;
    returns its length."""
    for part, v in (("start", start), ("stop", stop), ("step", step)):
        finite(f"{name}: {part}", v)
    if step == 0:
        raise ValueError(f"{name}: step must be nonzero (start:stop:step, stop excluded), got step {step!r}")
    span = (stop - start) / step
    if not math.isfinite(span) or span > max_points:
        raise ValueError(f"{name} has more than {max_points} points (start {start!r}, stop {stop!r}, step {step!r}); "
                         f"use a larger step")
    n = math.ceil(span)
    if n <= 0:
        raise ValueError(f"{name} is empty: no value from start {start!r} towards stop {stop!r} in steps of "
                         f"{step!r} (stop is excluded; the step must point from start towards stop)")
    return n
