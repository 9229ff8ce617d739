"""Capability benchmarks as per-item scores that the landscape engine evaluates under perturbation.

    from basinlab.benchmarks import registry, references, measure
    bench = registry.build("synthetic-addition", model)      # registry.available() lists the names
    measure(model, bench).score                              # its score at the model's own weights
    surrogate = references.reference("synthetic-addition", model)   # its reference-answer NLL

Modules: base (Benchmark, the typed outputs Scores / Judged / Grades), text, oracles (the kinds of
score function), judges (graders of generated text), sandbox + sandbox_child + sandbox_isolation
(running generated code in OS namespaces), items (generated items and prompts), arithmetic (bare-text
sums "a+b=" for the byte-level GPTs that learn them in pre-training), registry (benchmarks
by name), references (their differentiable surrogates), measure (the unperturbed score with an
interval), loaders (data sets) with records, readers, paths, hub and corpora.
"""

import warnings

from basinlab.benchmarks import judges as judges
from basinlab.benchmarks import loaders as loaders
from basinlab.benchmarks import oracles as oracles
from basinlab.benchmarks import references as references
from basinlab.benchmarks import registry as registry
from basinlab.benchmarks.base import Benchmark as Benchmark
from basinlab.benchmarks.base import Grades as Grades
from basinlab.benchmarks.base import Judged as Judged
from basinlab.benchmarks.base import Scores as Scores
from basinlab.benchmarks.measure import Measurement as Measurement
from basinlab.benchmarks.measure import measure as measure
from basinlab.benchmarks.text import text_benchmark as text_benchmark
from basinlab.benchmarks.text import token_benchmark as token_benchmark

__all__ = [
    "Benchmark", "Grades", "Judged", "Measurement", "Scores", "judges", "loaders", "measure", "oracles",
    "references", "registry", "text_benchmark", "token_benchmark",
]


def evaluate(model, benchmark: Benchmark, params=None, confidence: float = 0.95) -> Measurement:
    """Deprecated name of :func:`measure` (basinlab < 0.2)."""
    warnings.warn("basinlab.benchmarks.evaluate is now basinlab.benchmarks.measure", DeprecationWarning,
                  stacklevel=2)
    return measure(model, benchmark, params=params, confidence=confidence)
