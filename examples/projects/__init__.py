"""An example app that trusts Sump's access tokens: organization-scoped projects (see README.md)."""
