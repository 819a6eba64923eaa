"""A new tenant: its owner, its first environment and the owner's first session, made together."""
