"""Rules for organizations, their members, and an environment's roles and permission catalog, one module per
subject: `organizations`, `members` (with `access`, who may do what in an organization), `catalog` (roles and
permissions) and `grants` (what access tokens say about the active organization). Other features use the names
below."""

from sump.organizations.service.access import ensure_audit_reader
from sump.organizations.service.grants import Grant, current_grant, token_grant

__all__ = ["Grant", "current_grant", "ensure_audit_reader", "token_grant"]
