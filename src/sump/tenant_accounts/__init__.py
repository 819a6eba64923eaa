"""Tenant accounts: the people who administer a tenant, with roles owner, admin and user."""
