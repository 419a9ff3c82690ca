"""``perfanalyzer search``: model configuration search (Model Analyzer's job) on the ordinary
profile sweep.

space (candidates, quick / full order; pure) -> modelconfig (candidate -> Triton config JSON,
config.pbtxt) -> control (load / restore through the repository API) -> runner (one profile sweep
per candidate) -> objective (best point, score) -> store (resumable output folder) -> report
(summary.md, pareto.png, config.pbtxt). main runs it from the command line.
"""
