"""Server-side sessions behind the signed `sump_session` cookie or a bearer token."""
