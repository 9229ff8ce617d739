"""The named benchmarks: build one by name for a model, measure it at theta0, get its reference surrogate.

    bench = basinlab.benchmark("synthetic-addition", model)     # basinlab.benchmarks.available() lists names
    basinlab.measure(model, bench).score                         # its score at the model's own weights
    basinlab.benchmarks.reference("synthetic-addition", model)   # its differentiable reference-answer NLL

How they are scored lives in `basinlab.scoring`, their data in `basinlab.data`, the lm-eval task
reproductions in `basinlab.lmeval`.
"""

from basinlab.benchmarks._arithmetic import inline_addition_benchmark
from basinlab.benchmarks._items import CAPITALS, addition_items, capitals_items
from basinlab.benchmarks._measure import Measurement, measure
from basinlab.benchmarks._references import reference
from basinlab.benchmarks._registry import available, build, options

__all__ = ["CAPITALS", "Measurement", "addition_items", "available", "build", "capitals_items",
           "inline_addition_benchmark", "measure", "options", "reference"]
