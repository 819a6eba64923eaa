"""An append-only audit log of security-relevant events, for both account families."""
