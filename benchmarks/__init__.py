"""Measurements of automodel beside its peers: ``python -m benchmarks`` runs them all.

Each module has one job; ``__main__.py`` runs them side by side, each measurement
in a fresh process, and writes ``benchmarks/RESULTS.md``. Nothing here is
imported by automodel itself.
"""
