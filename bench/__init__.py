"""Benchmarks: `make bench` (or `python -m bench [--only NAME ...]`) runs them and prints one table.

Each benchmark module exposes `run(options) -> list[Row]`; it measures its baseline in the same
run (a bare `requests` loop, a bare Django view, ...) so figures are ratios, not absolute claims.
"""
