"""Capability benchmarks as per-item scores that the landscape engine evaluates under perturbation.

    from basinlab.benchmarks import registry
    bench = registry.build("synthetic-addition", model)      # registry.available() lists the names
    surrogate = references.reference("synthetic-addition", model)   # its reference-answer NLL
"""

from . import judges as judges
from . import loaders as loaders
from . import oracles as oracles
from . import references as references
from . import registry as registry
from .base import Benchmark as Benchmark
from .evaluate import evaluate as evaluate
from .text import text_benchmark as text_benchmark
from .text import token_benchmark as token_benchmark

__all__ = ["Benchmark", "evaluate", "judges", "loaders", "oracles", "references", "registry", "text_benchmark", "token_benchmark"]
