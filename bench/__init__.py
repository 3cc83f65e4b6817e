"""Benchmarks: scripts run as ``python -m bench.NAME``; never collected by pytest."""
