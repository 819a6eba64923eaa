"""Liveness, readiness and the original health route."""
