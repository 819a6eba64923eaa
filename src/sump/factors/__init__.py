"""Second factors of both account families: TOTP, recovery codes, the challenges between a sign-in's steps,
step-up, the factor policy, and an admin's reset. Passkeys slot in as another kind (`sump.factors.kinds`)."""
