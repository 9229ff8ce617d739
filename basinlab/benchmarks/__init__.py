"""Capability benchmarks as per-item scores that the landscape engine evaluates under perturbation.

    from basinlab.benchmarks import registry
    bench = registry.build("synthetic-addition", model)      # registry.available() lists the names
    surrogate = references.reference("synthetic-addition", model)   # its reference-answer NLL
"""

from basinlab.benchmarks import judges as judges
from basinlab.benchmarks import loaders as loaders
from basinlab.benchmarks import oracles as oracles
from basinlab.benchmarks import references as references
from basinlab.benchmarks import registry as registry
from basinlab.benchmarks.base import Benchmark as Benchmark
from basinlab.benchmarks.evaluate import evaluate as evaluate
from basinlab.benchmarks.text import text_benchmark as text_benchmark
from basinlab.benchmarks.text import token_benchmark as token_benchmark

__all__ = ["Benchmark", "evaluate", "judges", "loaders", "oracles", "references", "registry", "text_benchmark", "token_benchmark"]
