"""Alembic's script directory (`env.py`, `versions/`), shipped inside the package so an installed Sump can migrate."""
