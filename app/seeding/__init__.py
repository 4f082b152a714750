"""Deterministic fake data for demos and benchmarks: `taskboard seed`."""
