"""Capability benchmarks as per-item scores that the landscape engine evaluates under perturbation."""

from .base import Benchmark as Benchmark
from .text import text_benchmark as text_benchmark
from .text import token_benchmark as token_benchmark

__all__ = ["Benchmark", "text_benchmark", "token_benchmark"]
