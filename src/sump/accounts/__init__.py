"""What both account families share, below the features that manage them and the sign-in that uses them:
the pool a path names, identifier rules, the one password check (per-address budget, per-account lockout,
hashing slot), new passwords, and password reset."""
