"""Sump: multi-tenant user management and authentication."""

__version__ = "0.1.0"
