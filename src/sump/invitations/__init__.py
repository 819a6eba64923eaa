"""Invitations by email, for every kind: a tenant account, an organization's member, an end user who sets a
password. This package keeps the rows (token, expiry, acceptance, revocation); each kind's rules live with the
feature it joins (`sump.tenant_accounts.invitations`, `sump.organizations.invitations`, …)."""
