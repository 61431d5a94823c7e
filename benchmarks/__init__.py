"""Benchmarks for ffwd, run by `make bench` (`python -m benchmarks`).

Each benchmark module has `run(settings) -> list[Record]`; `__main__` runs the modules listed
in `MODULES`, prints one line per record and writes them all to `benchmarks/results.json`.
Every figure is a ratio measured side by side in one run, so a slow or noisy machine shifts
both sides alike. Benchmarks are never tests: nothing here is timed under pytest.
"""
