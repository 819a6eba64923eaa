"""Tenants: the customer organisations."""
