"""perfanalyzer: a load generator and benchmarking harness for KServe v2 / Triton servers."""

__version__ = "0.1.0"
