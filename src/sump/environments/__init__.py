"""Environments: separate user pools inside a tenant."""
