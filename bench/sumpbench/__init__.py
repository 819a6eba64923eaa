"""Sump benchmarks: systems, accounts, load generation, scenarios and the report (see cli.py)."""
