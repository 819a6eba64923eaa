"""Signed access tokens (JWT, ES256) with per-environment keys, and rotating refresh tokens."""
