"""Benchmarks of the pipeline (not part of the installed package): see benchmarks/bench.py."""
