"""Benchmarks of the carbonx engine: the standard order flow (``bench.flow``) and its runners.

``bench.flow`` generates the seeded standard flow (with its own small book model, which gives the
traded volume the engine must reproduce); ``python -m bench`` runs it through a fresh exchange and
reports commands per second; ``tests/test_bench.py`` holds the pytest-benchmark cases.
"""
